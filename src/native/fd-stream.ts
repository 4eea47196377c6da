/**
 * A Node `Duplex` over a native {@link FdHandle} for stream sockets (AF_VSOCK, AF_HYPERV,
 * AF_UNIX pairs): what `net.Socket({ fd })` would be if libuv could wrap those descriptors.
 *
 * - Reading polls only while Node wants data: when `push()` returns false polling stops, and
 *   `_read()` restarts it, so a slow consumer applies backpressure to the kernel socket.
 * - Writing retries after `EAGAIN` by waiting for writability; `write()`'s callback fires
 *   only when every byte reached the kernel.
 * - `end()` sends `shutdown(SHUT_WR)` (half-close); the read side stays open until the peer
 *   ends too (`allowHalfOpen` defaults to true, like the transports in protocols.md §2).
 * @module
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import type { FdHandle } from './native-addon.js';
import { osError, toErrnoException, UV_EAGAIN, UV_ENOTCONN } from './os-error.js';

/** Options for {@link FdStream}. */
export interface FdStreamOptions extends Pick<DuplexOptions, 'allowHalfOpen' | 'readableHighWaterMark' | 'writableHighWaterMark'> {
  /** Size of one read; default 64 KiB. */
  readonly readSize?: number;
  /** Bound on reads per readiness callback, so one busy socket cannot starve the loop; default 16. */
  readonly readsPerWakeup?: number;
}

/** Reads shorter than this are copied out of the scratch buffer; longer ones take it over. */
const COPY_BELOW = 16 * 1024;

/** A stream-socket descriptor as a Node `Duplex` (see module docs). Owns the handle. */
export class FdStream extends Duplex {
  private readonly readSize: number;
  private readonly readsPerWakeup: number;
  private scratch: Buffer;
  private polling = false;
  private readonly onReadable = (status: number): void => this.drainReadable(status);

  constructor(readonly handle: FdHandle, options: FdStreamOptions = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? true,
      ...(options.readableHighWaterMark !== undefined ? { readableHighWaterMark: options.readableHighWaterMark } : {}),
      ...(options.writableHighWaterMark !== undefined ? { writableHighWaterMark: options.writableHighWaterMark } : {}),
    });
    this.readSize = options.readSize ?? 64 * 1024;
    this.readsPerWakeup = options.readsPerWakeup ?? 16;
    this.scratch = Buffer.allocUnsafe(this.readSize);
  }

  /** Lets the process exit while this stream is idle-polling (like `net.Socket#unref`). */
  unref(): this {
    this.handle.unref();
    return this;
  }

  /** Undoes {@link unref}. */
  ref(): this {
    this.handle.ref();
    return this;
  }

  override _read(): void {
    if (this.polling || this.destroyed) return;
    const r = this.handle.startReading(this.onReadable);
    if (r < 0) {
      this.destroy(toErrnoException(osError('poll', r)));
      return;
    }
    this.polling = true;
  }

  private stopPolling(): void {
    if (!this.polling) return;
    this.polling = false;
    this.handle.stopReading();
  }

  private drainReadable(status: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      // libuv reports POLLERR as a poll failure; SO_ERROR holds the actual cause.
      const soErr = this.handle.socketError();
      if (soErr < 0) {
        this.destroy(toErrnoException(osError('read', soErr)));
        return;
      }
      this.polling = false; // the native side stopped polling after reporting the error
    }
    for (let i = 0; i < this.readsPerWakeup; i++) {
      const n = this.handle.read(this.scratch);
      if (n === UV_EAGAIN) break;
      if (n < 0) {
        this.destroy(toErrnoException(osError('read', n)));
        return;
      }
      if (n === 0) {
        this.stopPolling();
        this.push(null);
        return;
      }
      let chunk: Buffer;
      if (n < COPY_BELOW) {
        chunk = Buffer.from(this.scratch.subarray(0, n));
      } else {
        chunk = this.scratch.subarray(0, n);
        this.scratch = Buffer.allocUnsafe(this.readSize);
      }
      if (!this.push(chunk)) {
        this.stopPolling();
        return;
      }
    }
    if (status < 0 && !this.destroyed) this._read();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.writeFrom(chunk, 0, cb, false);
  }

  private writeFrom(chunk: Buffer, off: number, cb: (error?: Error | null) => void, afterPollError: boolean): void {
    while (off < chunk.length) {
      const n = this.handle.write(chunk, off, chunk.length - off);
      if (n >= 0) {
        off += n;
        continue;
      }
      if (n !== UV_EAGAIN) {
        cb(toErrnoException(osError('write', n)));
        return;
      }
      if (afterPollError) {
        // The poll reported an error yet the socket still claims to be full: give up rather than spin.
        const soErr = this.handle.socketError();
        cb(toErrnoException(osError('write', soErr < 0 ? soErr : n)));
        return;
      }
      const r = this.handle.awaitWritable((status) => {
        if (this.destroyed) return;
        this.writeFrom(chunk, off, cb, status < 0);
      });
      if (r < 0) cb(toErrnoException(osError('poll', r)));
      return;
    }
    cb();
  }

  override _final(cb: (error?: Error | null) => void): void {
    const r = this.handle.shutdownWrite();
    // ENOTCONN: the peer already tore the connection down; there is nothing left to end.
    if (r < 0 && r !== UV_ENOTCONN) cb(toErrnoException(osError('shutdown', r)));
    else cb();
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.polling = false;
    this.handle.close();
    cb(error);
  }
}
