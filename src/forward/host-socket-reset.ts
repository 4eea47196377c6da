/**
 * Resetting a host socket without wedging Node. `socket.resetAndDestroy()` sends RST (SO_LINGER 0),
 * but called after `end()` has begun it fails inside Node with EINVAL and the handle is never
 * closed: the process then spins at exit (Node 20, seen with exposed ports closed mid-close). Once
 * our FIN is on its way a reset means nothing more to the peer anyway, so plain `destroy()` is used.
 * @module
 */
import type { Socket } from 'node:net';

/** Sends RST when that is still possible, else closes; never throws. */
export function resetHostSocket(s: Socket): void {
  if (s.destroyed) return;
  if (s.writableEnded || s.writableFinished) {
    s.destroy();
    return;
  }
  try {
    s.resetAndDestroy();
  } catch {
    // A pipe or an unusual handle: closing is the honest equivalent.
    s.destroy();
  }
}
