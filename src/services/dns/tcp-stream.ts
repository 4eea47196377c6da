/**
 * DNS over one TCP connection (RFC 7766) on any Node `Duplex`: each message carries a two-byte
 * big-endian length prefix (RFC 1035 §4.2.2); a client may pipeline many queries (§6.2.1) and
 * answers go out as each completes, possibly out of order (§6.2.1.1, §7); an idle connection is
 * closed by the server (§6.2.3); a half-close by the client is honoured after the outstanding
 * answers are written. Length prefixes and messages may arrive split across any reads.
 *
 * Resource bounds: at most `maxInFlight` queries of a connection are being answered at once —
 * the rest wait in the read buffer and reading pauses — and reading also pauses while the
 * socket's write buffer is over its high-water mark, so a client that sends without reading
 * cannot make the gateway buffer without limit.
 * @module
 */
import type { Duplex } from 'node:stream';
import { Timer, type Scheduler } from '../../runtime/scheduler.js';

/** Per-connection limits. */
export interface StreamLimits {
  /** Close the connection after this long without a query or an answer outstanding. */
  readonly idleTimeoutMs: number;
  /** Queries answered concurrently per connection. */
  readonly maxInFlight: number;
}

/** Answers one query; must call `respond` exactly once (`undefined`: no answer). */
export type StreamQueryHandler = (query: Uint8Array, respond: (reply: Uint8Array | undefined) => void) => void;

const EMPTY = Buffer.alloc(0);

/**
 * Serves DNS messages on `duplex` until either side closes it. `onClose` runs once when the stream
 * is gone. Never throws: a zero-length message is a framing error and closes the connection.
 */
export function serveStream(duplex: Duplex, scheduler: Scheduler, limits: StreamLimits, handle: StreamQueryHandler, onClose: () => void): void {
  let pending: Buffer = EMPTY;
  let inFlight = 0;
  let peerEnded = false;
  let writeBlocked = false;
  let closed = false;
  let ending = false;
  let gone = false;

  const idle = new Timer(() => {
    if (closed || ending) return;
    if (inFlight > 0) return scheduler.armIn(idle, limits.idleTimeoutMs);
    finish();
  });

  /** Our FIN, then the descriptor once written (a silent peer must not keep it half-open). */
  const finish = (): void => {
    if (closed || ending) return;
    ending = true;
    scheduler.disarm(idle);
    duplex.once('finish', () => duplex.destroy());
    duplex.end();
  };

  const flow = (): void => {
    if (closed || ending) return;
    if (inFlight < limits.maxInFlight && !writeBlocked && !peerEnded) duplex.resume();
    else duplex.pause();
  };

  const respondTo = (): ((reply: Uint8Array | undefined) => void) => {
    let done = false;
    return (reply) => {
      if (done) return;
      done = true;
      inFlight--;
      if (closed || ending) return;
      if (reply !== undefined && reply.length <= 0xffff) {
        const frame = Buffer.allocUnsafe(2 + reply.length);
        frame.writeUInt16BE(reply.length, 0);
        frame.set(reply, 2);
        if (!duplex.write(frame) && !writeBlocked) {
          writeBlocked = true;
          duplex.once('drain', () => {
            writeBlocked = false;
            flow();
          });
        }
      }
      scheduler.armIn(idle, limits.idleTimeoutMs);
      dispatch();
      if (peerEnded && inFlight === 0 && pending.length < 2) finish();
      flow();
    };
  };

  /** Hands every complete buffered message to `handle`, up to the in-flight limit. */
  const dispatch = (): void => {
    while (!closed && !ending && inFlight < limits.maxInFlight && pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (len === 0) {
        // Not a DNS message; the stream cannot be resynchronised (RFC 7766 §8 framing).
        closed = true;
        duplex.destroy();
        return;
      }
      if (pending.length < 2 + len) return;
      const msg = new Uint8Array(pending.subarray(2, 2 + len));
      pending = pending.length === 2 + len ? EMPTY : pending.subarray(2 + len);
      inFlight++;
      handle(msg, respondTo());
    }
  };

  duplex.on('data', (chunk: Buffer | string) => {
    if (closed || ending) return;
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    pending = pending.length === 0 ? b : Buffer.concat([pending, b]);
    scheduler.armIn(idle, limits.idleTimeoutMs);
    dispatch();
    flow();
  });
  duplex.on('end', () => {
    peerEnded = true;
    // A trailing partial message can never complete now.
    if (inFlight === 0) finish();
  });
  duplex.on('error', () => {
    duplex.destroy();
  });
  duplex.on('close', () => {
    if (gone) return;
    gone = true;
    closed = true;
    scheduler.disarm(idle);
    pending = EMPTY;
    onClose();
  });
  scheduler.armIn(idle, limits.idleTimeoutMs);
}
