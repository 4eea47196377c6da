/**
 * Frame-phase framing (protocols.md §1.6): every Ethernet frame, both directions, is a u16 LE
 * length followed by that many bytes. The same framing without a handshake is
 * gvisor-tap-vsock's `stdio` protocol (protocols.md §6), so this codec serves both.
 *
 * The decoder is on the per-packet path: it parses every frame a chunk holds in one pass and
 * hands out views into that chunk; only a frame split across chunks is copied, into a tail
 * buffer allocated once per connection. No allocation happens per frame.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import type { VmnetFrameError } from './vmnet-errors.js';

/** Bytes of the length prefix (protocols.md §1.6). */
export const FRAME_PREFIX_SIZE = 2;

/** Largest length a u16 prefix can carry (protocols.md §1.6). */
export const MAX_FRAME_LENGTH = 0xffff;

/** One shared success value, so the fast paths return without allocating. */
const OK: Result<void, never> = ok(undefined);

function frameError(length: number, max: number): VmnetFrameError {
  if (length === 0) return vnetError('frame-empty', 'zero-length frame', { length: 0 as const });
  return vnetError('frame-too-large', `frame of ${length} bytes exceeds the maximum of ${max}`, { length, max });
}

/**
 * Writes the 2-byte LE prefix for a frame of `len` bytes at `buf[off]`; the frame itself goes
 * at `off + FRAME_PREFIX_SIZE`. Lengths outside 1…65535 are refused (a zero-length frame is
 * meaningless and the u16 cannot carry more).
 */
export function writePrefix(buf: Uint8Array, off: number, len: number): Result<void, VmnetFrameError> {
  if (!(len >= 1 && len <= MAX_FRAME_LENGTH) || !Number.isInteger(len)) return err(frameError(len, MAX_FRAME_LENGTH));
  buf[off] = len & 0xff;
  buf[off + 1] = len >>> 8;
  return OK;
}

/** Allocates prefix + copy of `frame`: a convenience for tests and slow paths. */
export function encodeFrame(frame: Uint8Array): Result<Buffer, VmnetFrameError> {
  const out = Buffer.allocUnsafe(FRAME_PREFIX_SIZE + frame.length);
  const p = writePrefix(out, 0, frame.length);
  if (p.isErr()) return err(p.error);
  out.set(frame, FRAME_PREFIX_SIZE);
  return ok(out);
}

/**
 * Receives each frame as a view: `buf[off, off + len)`. The bytes are valid only during the
 * call (the chunk or the tail buffer is reused); copy what must outlive it. It must not throw.
 */
export type FrameSink = (buf: Buffer, off: number, len: number) => void;

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Largest accepted frame length, 1…65535: the negotiated max_packet_size on a vmnet link
   * (protocols.md §1.5), or e.g. 16384 like vpnkit-tap-vsockd (§1.6). Values outside are
   * clamped into that range.
   */
  readonly maxFrameSize: number;
  readonly onFrame: FrameSink;
}

/**
 * Incremental u16 LE frame decoder for one connection. After an error it stays failed: the
 * stream is no longer in sync and the caller must close that connection (and only that one).
 */
export class FrameDecoder {
  readonly maxFrameSize: number;
  private readonly onFrame: FrameSink;
  /** Holds one frame (prefix included) split across chunks; never larger than one accepted frame. */
  private readonly tail: Buffer;
  /** Bytes of the split frame held in `tail`, prefix included. */
  private have = 0;
  /** Length of the split frame once its prefix is complete, else -1. */
  private need = -1;
  private failure: Result<void, VmnetFrameError> | undefined;

  constructor(opts: FrameDecoderOptions) {
    const max = opts.maxFrameSize;
    // Clamped into what a u16 prefix can express; NaN means "no limit beyond the u16".
    this.maxFrameSize = Number.isNaN(max) ? MAX_FRAME_LENGTH : Math.min(MAX_FRAME_LENGTH, Math.max(1, Math.floor(max)));
    this.onFrame = opts.onFrame;
    this.tail = Buffer.allocUnsafe(FRAME_PREFIX_SIZE + this.maxFrameSize);
  }

  /** The error that stopped this decoder, if any. */
  get error(): VmnetFrameError | undefined {
    return this.failure?.isErr() === true ? this.failure.error : undefined;
  }

  /** Bytes held of a frame not yet complete (for stats and tests). */
  get pendingBytes(): number {
    return this.have;
  }

  /** Decodes every frame `chunk` completes, in order. Returns the error that ends the connection, if any. */
  push(chunk: Buffer): Result<void, VmnetFrameError> {
    if (this.failure !== undefined) return this.failure;
    const n = chunk.length;
    let p = 0;
    const max = this.maxFrameSize;
    const tail = this.tail;

    if (this.have > 0) {
      // Complete the prefix of the split frame first, a byte at a time (at most one byte here).
      while (this.have < FRAME_PREFIX_SIZE && p < n) tail[this.have++] = chunk[p++]!;
      if (this.have < FRAME_PREFIX_SIZE) return OK;
      if (this.need < 0) {
        const len = tail[0]! | (tail[1]! << 8);
        if (len === 0 || len > max) return this.fail(len);
        this.need = len;
      }
      const total = FRAME_PREFIX_SIZE + this.need;
      const k = Math.min(total - this.have, n - p);
      chunk.copy(tail, this.have, p, p + k);
      this.have += k;
      p += k;
      if (this.have < total) return OK;
      const len = this.need;
      this.have = 0;
      this.need = -1;
      this.onFrame(tail, FRAME_PREFIX_SIZE, len);
    }

    // Fast path: frames wholly inside the chunk are handed out as views, no copy.
    while (n - p >= FRAME_PREFIX_SIZE) {
      const len = chunk[p]! | (chunk[p + 1]! << 8);
      if (len === 0 || len > max) return this.fail(len);
      if (n - p - FRAME_PREFIX_SIZE < len) {
        this.need = len;
        break;
      }
      this.onFrame(chunk, p + FRAME_PREFIX_SIZE, len);
      p += FRAME_PREFIX_SIZE + len;
    }

    // Keep the start of a split frame (possibly just one prefix byte); it fits since len ≤ max.
    if (p < n) {
      chunk.copy(tail, 0, p, n);
      this.have = n - p;
    }
    return OK;
  }

  private fail(length: number): Result<void, VmnetFrameError> {
    this.failure = err(frameError(length, this.maxFrameSize));
    this.have = 0;
    this.need = -1;
    return this.failure;
  }
}
