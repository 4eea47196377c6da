/**
 * Reads fixed-size handshake messages off a Node `Duplex` (protocols.md §1.2: "reads exactly
 * 49 bytes", "exactly 41", "exactly 258"), whatever the chunking: a message may arrive one byte
 * at a time, or together with the next message and the first frames in one chunk. Bytes beyond
 * the last message read are kept and handed back by {@link ExactReader.release}, so frames a
 * peer pipelined behind its handshake are not lost.
 *
 * The reader owns the stream's `data`/`end`/`close`/`error` listeners only between construction
 * and `release()`/`abandon()`; after that the stream carries none of ours.
 * @module
 */
import type { Duplex } from 'node:stream';
import { err, ok, type Result } from 'neverthrow';

/** Why a read could not be satisfied. */
export type ReadFailure =
  | { readonly kind: 'eof'; readonly received: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'io-error'; readonly cause: unknown };

type Stopped = { readonly kind: 'eof' } | { readonly kind: 'timeout' } | { readonly kind: 'io-error'; readonly cause: unknown };

interface Pending {
  readonly n: number;
  readonly resolve: (r: Result<Buffer, ReadFailure>) => void;
}

function ignore(): void {}

/** Exact-length reads over a stream during a handshake. */
export class ExactReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private stopped: Stopped | undefined;
  private pending: Pending | undefined;
  private attached = true;
  /** True once the peer's end of stream (or a close) has been seen. */
  ended = false;

  private readonly onData = (chunk: Buffer | string): void => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    if (b.length === 0) return;
    this.chunks.push(b);
    this.buffered += b.length;
    this.settle();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.stop({ kind: 'eof' });
  };
  private readonly onError = (cause: unknown): void => this.stop({ kind: 'io-error', cause });

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    // A caller may hand over a stream it paused explicitly (e.g. `pauseOnConnect`); adding a
    // 'data' listener alone would not start it then.
    stream.resume();
    // A stream that is already over will emit nothing more; fail reads now rather than at the deadline.
    if (stream.destroyed) {
      this.ended = true;
      this.stopped = { kind: 'eof' };
    }
  }

  /** Resolves with exactly `n` bytes, or with why they will never come. */
  read(n: number): Promise<Result<Buffer, ReadFailure>> {
    if (this.pending !== undefined) {
      return Promise.resolve(err({ kind: 'io-error', cause: new Error('ExactReader: overlapping reads') }));
    }
    return new Promise((resolve) => {
      this.pending = { n, resolve };
      this.settle();
    });
  }

  /** Makes the current and every later read fail with `f` (used for the handshake deadline). */
  stop(f: Stopped): void {
    if (this.stopped === undefined) this.stopped = f;
    this.settle();
  }

  /**
   * Detaches from the stream, leaving it paused so nothing is emitted to nobody, and returns
   * the bytes received beyond the last read. The next owner attaches its own listeners and
   * calls `resume()`.
   */
  release(): Buffer {
    this.detach();
    this.stream.pause();
    const rest = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  /**
   * Detaches and leaves a no-op `error` listener behind: the handshake has failed and is
   * closing the stream, and a late EPIPE from a write already queued must not crash the process.
   */
  abandon(): void {
    this.detach();
    this.stream.on('error', ignore);
    this.chunks = [];
    this.buffered = 0;
  }

  private detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
  }

  private settle(): void {
    const p = this.pending;
    if (p === undefined) return;
    if (this.buffered >= p.n) {
      this.pending = undefined;
      p.resolve(ok(this.take(p.n)));
      return;
    }
    const s = this.stopped;
    if (s === undefined) return;
    this.pending = undefined;
    p.resolve(err(s.kind === 'eof' ? { kind: 'eof', received: this.buffered } : s));
  }

  /** Removes the first `n` buffered bytes; copies only when they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - got);
        c.copy(out, got, 0, k);
        got += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
