/**
 * A Node `Duplex` over a {@link Connection}, for library users and exposed ports (like gVisor's
 * gonet over netstack). Writes go into the send ring and wait for `onWritable` when it is full;
 * reads are copied out of the borrowed views and the stream's unread bytes are reported as the
 * receive backlog, so a reader that stops shrinks the window the peer sees. `end()` half-closes
 * (FIN after queued data); the peer's FIN ends the readable side. A reset becomes an error.
 * @module
 */
import { Duplex } from 'node:stream';
import type { CloseReason, Connection } from './connection.js';

/** Error codes a closed connection surfaces as, Node-style. */
const CLOSE_ERRORS: Partial<Record<CloseReason, string>> = { reset: 'ECONNRESET', refused: 'ECONNREFUSED', timeout: 'ETIMEDOUT' };

/** A Duplex stream over one TCP connection (allowHalfOpen). */
export class ConnectionDuplex extends Duplex {
  private pendingWrite: { chunk: Buffer; off: number; cb: (e?: Error | null) => void } | undefined;
  private closedReason: CloseReason | undefined;

  constructor(readonly conn: Connection) {
    super({ allowHalfOpen: true });
    conn.setHandlers({
      onData: (b, off, len) => {
        this.push(Buffer.from(b.subarray(off, off + len)));
        conn.setReceiveBacklog(this.readableLength);
      },
      onEnd: () => this.push(null),
      onWritable: () => this.continueWrite(),
      onClose: (r) => this.connClosed(r),
    });
  }

  override _read(): void {
    this.conn.setReceiveBacklog(this.readableLength);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.closedReason !== undefined) return cb(closeError(this.closedReason));
    this.pendingWrite = { chunk, off: 0, cb };
    this.continueWrite();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.conn.shutdown();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // Destroying a stream whose connection is still open resets it (like socket.destroy() after an error).
    if (this.closedReason === undefined && !this.conn.isClosed) this.conn.abort();
    cb(err);
  }

  private continueWrite(): void {
    const p = this.pendingWrite;
    if (p === undefined) return;
    p.off += this.conn.send(p.chunk, p.off, p.chunk.length - p.off);
    if (p.off < p.chunk.length) return; // onWritable continues
    this.pendingWrite = undefined;
    p.cb();
  }

  private connClosed(r: CloseReason): void {
    this.closedReason = r;
    const p = this.pendingWrite;
    this.pendingWrite = undefined;
    if (r === 'closed') {
      p?.cb(closeError('reset'));
      if (!this.readableEnded) this.push(null);
      return;
    }
    p?.cb(closeError(r));
    this.destroy(closeError(r));
  }
}

function closeError(r: CloseReason): Error {
  const e = new Error(`TCP connection ${r}`) as NodeJS.ErrnoException;
  e.code = CLOSE_ERRORS[r] ?? 'ECONNABORTED';
  return e;
}
