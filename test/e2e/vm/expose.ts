/**
 * Exposes a guest port on host 127.0.0.1 (a free port, `hostPort: 0`) through the facade's
 * `exposePort`, and closes it in `runCleanups()`.
 * @module
 */
import type { ExposeHandle } from '../../../src/forward/port-forwarder.js';
import type { VirtualNetwork } from '../../../src/virtual-network.js';
import { deferCleanup } from './cleanup.js';

/** An exposed guest port with the host port it got. */
export type ExposedGuestPort = ExposeHandle & { readonly hostPort: number };

/**
 * `net.exposePort({ guest, guestPort, hostPort: 0 })` on 127.0.0.1; without `guest`, the network
 * picks its only leased guest (as `exposePort(port)` does). Throws with the error's message.
 */
export async function exposeGuestPort(net: VirtualNetwork, guest: string | undefined, guestPort: number): Promise<ExposedGuestPort> {
  const what = `exposePort ${guest ?? '(the only guest)'}:${guestPort}`;
  const r = await net.exposePort({ ...(guest !== undefined ? { guest } : {}), guestPort, hostIp: '127.0.0.1', hostPort: 0 });
  if (r.isErr()) throw new Error(`${what}: ${r.error.message}`);
  const handle = r.value;
  deferCleanup(`exposed ${guest ?? ''}:${guestPort}`, () => handle.close());
  if (handle.hostPort === undefined || handle.hostPort <= 0) throw new Error(`${what}: the handle reports no host port`);
  return handle as ExposedGuestPort;
}
