/**
 * Length-prefixed frame streams: QEMU's `-netdev stream` (u32 big-endian length, protocols.md §6)
 * and vmnet/gvisor-tap-vsock `stdio` (u16 little-endian length, §1.6). The decoder parses every
 * frame a chunk delivers in one pass and hands out views into the chunk; only a frame split
 * across chunks is copied, into one preallocated tail buffer.
 *
 * Two limits apply to a length prefix. Over the NIC's largest frame (`maxFrame`, e.g. MTU + 14)
 * but within what the framing can carry, it is one oversized frame: its bytes are skipped, even
 * across chunks, without being copied, `onOversize` is told, and the next frame is decoded as
 * usual (vpnkit reads any length the u16 allows, §1.6). A length that cannot be a frame at all
 * (zero, or over {@link maxStreamFrame}) means the stream is out of step, and ends it.
 * @module
 */

/** A framing: how long the prefix is and how it encodes the length. */
export interface Framing {
  readonly name: 'qemu' | 'vmnet' | 'stdio';
  /** Prefix size in bytes. */
  readonly prefix: 2 | 4;
  /** Largest length the prefix can express. */
  readonly maxLength: number;
  read(b: Uint8Array, off: number): number;
  write(b: Uint8Array, off: number, len: number): void;
}

/** QEMU stream netdev: 4-byte big-endian length, then the Ethernet frame. */
export const qemuFraming: Framing = {
  name: 'qemu',
  prefix: 4,
  maxLength: 0xffffffff,
  read: (b, o) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0,
  write: (b, o, len) => {
    b[o] = len >>> 24;
    b[o + 1] = len >>> 16;
    b[o + 2] = len >>> 8;
    b[o + 3] = len;
  },
};

/** vmnet frame phase and gvisor-tap-vsock `stdio`: 2-byte little-endian length. */
export const u16leFraming: Framing = {
  name: 'stdio',
  prefix: 2,
  maxLength: 0xffff,
  read: (b, o) => b[o]! | (b[o + 1]! << 8),
  write: (b, o, len) => {
    b[o] = len;
    b[o + 1] = len >>> 8;
  },
};

/** The vmnet frame phase (same bytes as stdio, named for logs). */
export const vmnetFraming: Framing = { ...u16leFraming, name: 'vmnet' };

/**
 * Largest u32 length QEMU itself sends or accepts on a stream netdev: its receive buffer,
 * `NET_BUFSIZE` = 4096 + 65536 (`include/net/net.h`, protocols.md §6). A longer QEMU length
 * prefix cannot be a frame: the stream is out of step.
 */
export const QEMU_MAX_STREAM_FRAME = 4096 + 65536;

/**
 * The largest length prefix a decoder skips rather than refuses: everything the framing can
 * express (u16), capped at {@link QEMU_MAX_STREAM_FRAME} for a u32 prefix, and never below the
 * NIC's own `maxFrame`.
 */
export function maxStreamFrame(framing: Framing, maxFrame: number): number {
  return Math.max(maxFrame, Math.min(framing.maxLength, QEMU_MAX_STREAM_FRAME));
}

/** Why a stream was rejected; ends that connection only. */
export interface FramingError {
  readonly kind: 'frame-too-large' | 'frame-empty';
  readonly message: string;
  readonly length: number;
}

/**
 * Incremental decoder. `push(chunk)` calls `onFrame(buf, off, len)` for every complete frame
 * (views valid only during the call) and `onOversize(len)` once for every frame longer than
 * `maxFrame`, whose bytes it then skips. It returns false after a framing error, which it
 * reports once through `onError`; after that it ignores input.
 */
export class FrameDecoder {
  private readonly tail: Buffer;
  /** Bytes held in `tail` (prefix and/or partial frame). */
  private have = 0;
  /** Length of the frame being assembled in `tail`, or -1 while its prefix is incomplete. */
  private need = -1;
  /** Bytes of an oversized frame still to be skipped. */
  private skip = 0;
  /** Prefix plus length of the frame being skipped (for {@link pending}). */
  private skipTotal = 0;
  /** Longest length that is skipped rather than refused. */
  private readonly hardMax: number;
  private failed = false;

  constructor(
    private readonly framing: Framing,
    /** Largest frame delivered; longer ones (up to {@link maxStreamFrame}) are skipped. */
    private readonly maxFrame: number,
    private readonly onFrame: (b: Uint8Array, off: number, len: number) => void,
    private readonly onError: (e: FramingError) => void,
    /** Told the length of each frame skipped for being over `maxFrame`. */
    private readonly onOversize: (len: number) => void = () => {},
  ) {
    this.tail = Buffer.allocUnsafeSlow(framing.prefix + maxFrame);
    this.hardMax = maxStreamFrame(framing, maxFrame);
  }

  /** Feeds a chunk; returns false once the stream is in error. */
  push(chunk: Uint8Array, off = 0, len = chunk.length - off): boolean {
    if (this.failed) return false;
    const p = this.framing.prefix;
    let i = off;
    const end = off + len;
    if (this.skip > 0) {
      i = this.skipBytes(i, end);
      if (this.skip > 0) return true; // still inside the oversized frame, chunk consumed
    }
    if (this.have > 0) {
      i = this.fillTail(chunk, i, end);
      if (i < 0) return false;
      if (this.have > 0 || this.skip > 0) return true; // still incomplete, chunk consumed
    }
    // Fast path: frames entirely inside the chunk are handed out in place.
    while (end - i >= p) {
      const flen = this.framing.read(chunk, i);
      if (!this.valid(flen)) return false;
      if (flen > this.maxFrame) {
        this.oversize(flen);
        if (this.failed) return false;
        i = this.skipBytes(i + p, end);
        if (this.skip > 0) return true;
        continue;
      }
      if (end - i - p < flen) break;
      this.onFrame(chunk, i + p, flen);
      i += p + flen;
      if (this.failed) return false;
    }
    if (i < end) {
      this.tail.set(chunk.subarray(i, end), 0);
      this.have = end - i;
      this.need = this.have >= p ? this.framing.read(this.tail, 0) : -1;
    }
    return true;
  }

  /** Bytes of an incomplete frame received so far, buffered or being skipped (a torn stream at EOF). */
  get pending(): number {
    return this.skip > 0 ? this.skipTotal - this.skip : this.have;
  }

  /** Starts skipping a frame of `flen` bytes whose prefix was just read. */
  private oversize(flen: number): void {
    this.skip = flen;
    this.skipTotal = this.framing.prefix + flen;
    this.onOversize(flen);
  }

  /** Consumes what it can of the frame being skipped; returns the new position. */
  private skipBytes(i: number, end: number): number {
    const take = Math.min(this.skip, end - i);
    this.skip -= take;
    return i + take;
  }

  private fillTail(chunk: Uint8Array, i: number, end: number): number {
    const p = this.framing.prefix;
    if (this.need < 0) {
      const take = Math.min(p - this.have, end - i);
      this.tail.set(chunk.subarray(i, i + take), this.have);
      this.have += take;
      i += take;
      if (this.have < p) return i;
      this.need = this.framing.read(this.tail, 0);
      if (!this.valid(this.need)) return -1;
      if (this.need > this.maxFrame) {
        const flen = this.need;
        this.have = 0;
        this.need = -1;
        this.oversize(flen);
        if (this.failed) return -1;
        return this.skipBytes(i, end);
      }
    }
    const take = Math.min(p + this.need - this.have, end - i);
    this.tail.set(chunk.subarray(i, i + take), this.have);
    this.have += take;
    i += take;
    if (this.have === p + this.need) {
      this.have = 0;
      const flen = this.need;
      this.need = -1;
      this.onFrame(this.tail, p, flen);
      if (this.failed) return -1;
    }
    return i;
  }

  private valid(flen: number): boolean {
    if (flen === 0) {
      this.fail({ kind: 'frame-empty', message: 'zero-length frame in the stream', length: 0 });
      return false;
    }
    if (flen > this.hardMax) {
      this.fail({ kind: 'frame-too-large', message: `frame length ${flen} is over ${this.hardMax}, the largest a ${this.framing.name} stream carries: the stream is out of step`, length: flen });
      return false;
    }
    return true;
  }

  /** Stops decoding (after a framing error or a fatal downstream error). */
  fail(e: FramingError): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(e);
  }
}
