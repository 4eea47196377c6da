/**
 * A switch port over a Node byte stream (Unix socket, vsock, any Duplex) with a length-prefix
 * framing. Input: every chunk is decoded in one pass and each frame goes to the switch as a view.
 * Output: frames are written back to back, prefix included, into a batch buffer the port owns;
 * the batch goes out as one `write()` at the end of the event loop's turn ({@link endOfTurn}'s
 * write lane, after the TCP flush), so a burst of frames costs one syscall. Once every write out
 * of the batch buffer has completed, the next frames start again at its beginning; a full buffer
 * still being written is swapped for one from the shared {@link BufferPool} and returns there
 * from its last write's callback. (A fresh 512 KiB buffer every time one filled made garbage
 * collection a quarter of the host→guest CPU.) Backpressure: while the socket's queue is over the
 * high-water mark, `reserve` answers -1 (the producer drops and TCP retransmits, or waits for
 * `onDrain`), so a slow NIC cannot grow memory without bound. A frame from the NIC longer than
 * `maxFrame` is skipped in the stream and counted as a `tooBig` drop of this port; only a length
 * that cannot be a frame at all closes it (see `framing.ts`).
 * @module
 */
import type { Duplex } from 'node:stream';
import { sharedBufferPool } from '../runtime/buffer-pool.js';
import { endOfTurn } from '../runtime/end-of-turn.js';
import { PortCounters, deliverByCopy, type SwitchPort } from '../switch/port.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { FrameDecoder, type Framing, type FramingError } from './framing.js';

/** Default cap on bytes queued toward one NIC before frames are dropped. */
export const DEFAULT_TX_HIGH_WATER = 4 * 1024 * 1024;
const BATCH = 512 * 1024;

/** Options of a {@link StreamPort}. */
export interface StreamPortOptions {
  name: string;
  framing: Framing;
  /** Largest frame in either direction (e.g. MTU + 14). */
  maxFrame: number;
  /** Bytes queued toward the NIC before frames are dropped. */
  txHighWater?: number;
  /** Bytes that arrived with the handshake and belong to the frame stream. */
  initial?: Uint8Array;
}

/** Why a stream port closed. */
export type StreamPortCloseReason =
  | { kind: 'eof'; message: string }
  | { kind: 'error'; message: string; cause?: unknown }
  | { kind: 'framing'; message: string; error: FramingError }
  | { kind: 'closed'; message: string };

/** A NIC attached through a framed byte stream. */
export class StreamPort implements SwitchPort {
  id = 0;
  readonly name: string;
  readonly maxFrame: number;
  readonly counters = new PortCounters();
  onDrain: (() => void) | undefined;
  /** Frame sink: the switch's input, bound at attach time. */
  onFrame: (port: StreamPort, b: Uint8Array, off: number, len: number) => void = () => {};
  /** Called once when the stream ends for any reason. */
  onClose: ((reason: StreamPortCloseReason) => void) | undefined;
  /** Called for each frame from the NIC skipped for being over `maxFrame` (already counted). */
  onOversize: ((len: number) => void) | undefined;

  txBuf: Buffer = sharedBufferPool.acquire(BATCH);
  private used = 0;
  /** End of the bytes of `txBuf` already handed to the socket. */
  private sent = 0;
  /** The buffer of each write not yet completed, oldest first (writes complete in order). */
  private readonly inFlight: Buffer[] = [];
  private readonly onWritten = (): void => this.written();
  private flushQueued = false;
  private closed = false;
  private readonly highWater: number;
  private readonly framing: Framing;
  private readonly decoder: FrameDecoder;
  private readonly flushFn = (): void => this.flush();
  private draining = false;

  constructor(
    private readonly stream: Duplex,
    opts: StreamPortOptions,
  ) {
    this.name = opts.name;
    this.maxFrame = opts.maxFrame;
    this.framing = opts.framing;
    this.highWater = opts.txHighWater ?? DEFAULT_TX_HIGH_WATER;
    this.decoder = new FrameDecoder(
      opts.framing,
      opts.maxFrame,
      (b, off, len) => this.onFrame(this, b, off, len),
      (e) => this.close({ kind: 'framing', message: `${this.name}: ${e.message}`, error: e }),
      (len) => this.oversize(len),
    );
    this.initial = opts.initial;
  }

  private initial: Uint8Array | undefined;

  /** A frame over `maxFrame` arrived and is being skipped: counted like the switch counts one. */
  private oversize(len: number): void {
    const c = this.counters;
    c.framesIn++;
    c.bytesIn += len;
    c.drop(Drop.TooBig);
    this.onOversize?.(len);
  }

  /** Starts reading. Call after the port is attached to a switch. */
  start(): void {
    const s = this.stream;
    s.on('data', (chunk: Buffer) => {
      // One guard per input loop: a bug downstream closes this NIC only (style.md §5.4).
      try {
        this.decoder.push(chunk);
      } catch (e) {
        this.close({ kind: 'error', message: `${this.name}: internal error while handling a frame: ${String(e)}`, cause: e });
      }
    });
    s.on('end', () => {
      const torn = this.decoder.pending;
      this.close({ kind: 'eof', message: torn > 0 ? `${this.name}: peer closed mid-frame (${torn} bytes pending)` : `${this.name}: peer closed` });
    });
    s.on('error', (e) => this.close({ kind: 'error', message: `${this.name}: ${e.message}`, cause: e }));
    s.on('close', () => this.close({ kind: 'closed', message: `${this.name}: stream closed` }));
    s.on('drain', () => {
      if (this.draining) {
        this.draining = false;
        this.onDrain?.();
      }
    });
    if (this.initial !== undefined && this.initial.length > 0) {
      const b = this.initial;
      this.initial = undefined;
      this.decoder.push(b);
    }
    // A stream handed over after a handshake is paused; adding 'data' alone does not resume it.
    s.resume();
  }

  get writable(): boolean {
    return !this.closed && this.stream.writableLength + (this.used - this.sent) < this.highWater;
  }

  reserve(len: number): number {
    if (this.closed) return -1;
    const pending = this.used - this.sent;
    if (this.stream.writableLength + pending >= this.highWater) {
      this.draining = true;
      return -1;
    }
    const p = this.framing.prefix;
    if (this.used + p + len > this.txBuf.length) {
      this.flush();
      // The socket may still be writing from this buffer: continue in another one. It goes back
      // to the pool from its last write's callback (see written()).
      if (this.inFlight.length > 0 || p + len > this.txBuf.length) {
        const old = this.txBuf;
        this.txBuf = sharedBufferPool.acquire(Math.max(BATCH, p + len));
        if (this.inFlight.length === 0) sharedBufferPool.release(old);
      }
      this.used = 0;
      this.sent = 0;
    }
    return this.used + p;
  }

  commit(off: number, len: number): void {
    this.framing.write(this.txBuf, off - this.framing.prefix, len);
    this.used = off + len;
    if (!this.flushQueued) {
      this.flushQueued = true;
      endOfTurn.deferWrite(this.flushFn);
    }
  }

  deliver(b: Uint8Array, off: number, len: number): DropCode {
    return deliverByCopy(this, b, off, len);
  }

  /** Writes out everything committed so far. */
  flush(): void {
    this.flushQueued = false;
    if (this.used === this.sent || this.closed) return;
    this.inFlight.push(this.txBuf);
    const ok = this.stream.write(this.txBuf.subarray(this.sent, this.used), this.onWritten);
    this.sent = this.used;
    if (!ok) this.draining = true;
  }

  /** A write completed: its buffer may be reused. */
  private written(): void {
    const b = this.inFlight.shift();
    if (b === undefined) return;
    // Writes of one buffer are consecutive in the queue: none left of `b` means it is free.
    if (this.inFlight.length > 0 && this.inFlight[0] === b) return;
    if (b !== this.txBuf) sharedBufferPool.release(b);
    else if (this.used === this.sent && !this.closed) {
      // Everything written out of the current buffer is done: start over at its beginning, where
      // the memory is still in the cache.
      this.used = 0;
      this.sent = 0;
    }
  }

  /** Ends the stream and reports why (once). */
  close(reason: StreamPortCloseReason = { kind: 'closed', message: `${this.name}: closed locally` }): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.decoder.fail({ kind: 'frame-empty', message: 'closed', length: 0 });
    this.stream.destroy();
    this.onClose?.(reason);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
