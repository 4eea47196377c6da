/**
 * Frames held back by a conditioning pipe until their release time. Frames reach a port
 * borrowed, so holding one means copying it; this store copies into one byte ring instead of
 * allocating per frame, and releases by deadline (earliest first, arrival order among equals)
 * through a binary heap, so jittered frames may leave in another order than they came.
 *
 * Layout: records (offset, length, deadline) sit in a circular array in arrival order; their
 * bytes sit in the ring in the same order. A frame released out of order is only marked dead;
 * its bytes come back when every older frame has gone too. The ring and the record array start
 * small and double up to their bounds, moving the live frames when they grow — rare, and the
 * price of not reserving the full bound for every conditioned NIC.
 * @module
 */

const INITIAL_BYTES = 64 * 1024;
const INITIAL_RECORDS = 64;

/** A bounded, deadline-ordered store of copied frames. */
export class HeldFrames {
  /** The ring; a released frame is read at `buf[offsetOf(slot)…]`. */
  buf: Uint8Array = new Uint8Array(0);
  /** Bumped by {@link clear}, so a release loop notices its store was emptied under it. */
  generation = 0;
  private head = 0;
  private tail = 0;
  private rOff = new Int32Array(INITIAL_RECORDS);
  private rLen = new Int32Array(INITIAL_RECORDS);
  private rAt = new Float64Array(INITIAL_RECORDS);
  private rSeq = new Float64Array(INITIAL_RECORDS);
  private rLive = new Uint8Array(INITIAL_RECORDS);
  private rFront = 0;
  /** Records from the front, dead ones included. */
  private rCount = 0;
  private heap = new Int32Array(INITIAL_RECORDS);
  private heapN = 0;
  private seq = 0;
  private bytes = 0;

  /**
   * @param maxBytes bound on the ring (live bytes plus wrap and out-of-order slack)
   * @param maxFrames bound on frames held at once
   */
  constructor(
    readonly maxBytes: number,
    readonly maxFrames: number,
  ) {}

  /** Frames held now. */
  get size(): number {
    return this.heapN;
  }

  /** Bytes of the frames held now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The earliest release time, `Infinity` when empty. */
  nextAt(): number {
    return this.heapN > 0 ? this.rAt[this.heap[0]!]! : Infinity;
  }

  /** Whether a frame of `len` bytes would be taken now. */
  fits(len: number): boolean {
    if (this.rCount >= this.maxFrames) return false;
    return this.place(len) >= 0 || (this.buf.length < this.maxBytes && this.bytes + len <= this.maxBytes);
  }

  /** Copies `b[off, off+len)` in, to be released at `at`. False (nothing kept) when a bound is reached. */
  push(b: Uint8Array, off: number, len: number, at: number): boolean {
    if (this.rCount >= this.maxFrames) return false;
    if (this.rCount === this.rOff.length) this.growRecords();
    let o = this.place(len);
    if (o < 0) {
      if (!this.growBytes(len)) return false;
      o = this.place(len);
    }
    const s = (this.rFront + this.rCount) % this.rOff.length;
    this.rCount++;
    this.buf.set(b.subarray(off, off + len), o);
    this.head = o + len;
    this.rOff[s] = o;
    this.rLen[s] = len;
    this.rAt[s] = at;
    this.rSeq[s] = this.seq++;
    this.rLive[s] = 1;
    this.bytes += len;
    this.heap[this.heapN] = s;
    this.up(this.heapN++);
    return true;
  }

  /**
   * Takes the earliest frame off the schedule and returns its slot: its bytes stay readable at
   * {@link offsetOf}/{@link lengthOf} until {@link free}. Returns -1 when empty.
   */
  shift(): number {
    if (this.heapN === 0) return -1;
    const s = this.heap[0]!;
    const last = this.heap[--this.heapN]!;
    if (this.heapN > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return s;
  }

  /** Where a shifted frame's bytes start in {@link buf}. */
  offsetOf(slot: number): number {
    return this.rOff[slot]!;
  }

  /** Length of a shifted frame. */
  lengthOf(slot: number): number {
    return this.rLen[slot]!;
  }

  /** Returns a shifted frame's space; older-first, dead records are reclaimed from the front. */
  free(slot: number): void {
    if (this.rLive[slot] !== 1) return;
    this.rLive[slot] = 0;
    this.bytes -= this.rLen[slot]!;
    const cap = this.rOff.length;
    while (this.rCount > 0 && this.rLive[this.rFront] === 0) {
      this.rFront = (this.rFront + 1) % cap;
      this.rCount--;
    }
    if (this.rCount === 0) {
      this.rFront = 0;
      this.head = 0;
      this.tail = 0;
    } else {
      this.tail = this.rOff[this.rFront]!;
    }
  }

  /** Forgets every frame; returns how many were held. */
  clear(): number {
    const n = this.heapN;
    this.rLive.fill(0);
    this.rFront = 0;
    this.rCount = 0;
    this.heapN = 0;
    this.head = 0;
    this.tail = 0;
    this.bytes = 0;
    this.generation++;
    return n;
  }

  /** Gives the ring back to the allocator (when conditioning is removed); it regrows on demand. */
  release(): void {
    this.clear();
    this.buf = new Uint8Array(0);
  }

  /** Offset where `len` contiguous bytes fit without overwriting a record, or -1. */
  private place(len: number): number {
    const cap = this.buf.length;
    if (this.rCount === 0) return len <= cap ? 0 : -1;
    // Unwrapped: data is [tail, head); room after head, else at the start before tail.
    if (this.head > this.tail) {
      if (cap - this.head >= len) return this.head;
      return len <= this.tail ? 0 : -1;
    }
    // Wrapped: data is [tail, end) and [0, head); room is [head, tail).
    return this.tail - this.head >= len ? this.head : -1;
  }

  /**
   * Grows the ring (doubling, up to the bound) and packs the live frames at its start. A ring
   * already at its bound is not repacked: that would allocate the whole bound again on every
   * frame while it stays full, so the frame is dropped instead.
   */
  private growBytes(len: number): boolean {
    const need = this.bytes + len;
    if (need > this.maxBytes || this.buf.length >= this.maxBytes) return false;
    let cap = Math.max(INITIAL_BYTES, this.buf.length * 2);
    while (cap < need * 2 && cap < this.maxBytes) cap *= 2;
    cap = Math.min(cap, this.maxBytes);
    const next = Buffer.allocUnsafeSlow(cap);
    let p = 0;
    const rc = this.rOff.length;
    for (let i = 0; i < this.rCount; i++) {
      const s = (this.rFront + i) % rc;
      if (this.rLive[s] !== 1) continue;
      const o = this.rOff[s]!;
      const l = this.rLen[s]!;
      next.set(this.buf.subarray(o, o + l), p);
      this.rOff[s] = p;
      p += l;
    }
    this.buf = next;
    // The front record is always live (free() skips dead ones), so it now starts at 0.
    this.tail = 0;
    this.head = p;
    return true;
  }

  /** Doubles the record arrays, unrolling the circle to start at 0 and renumbering the heap. */
  private growRecords(): void {
    const old = this.rOff.length;
    // push() checked rCount < maxFrames, so this is strictly larger.
    const cap = Math.min(old * 2, this.maxFrames);
    const f = this.rFront;
    const remap = (a: Int32Array | Float64Array | Uint8Array, n: Int32Array | Float64Array | Uint8Array): void => {
      for (let i = 0; i < this.rCount; i++) n[i] = a[(f + i) % old]!;
    };
    const off = new Int32Array(cap);
    const len = new Int32Array(cap);
    const at = new Float64Array(cap);
    const seq = new Float64Array(cap);
    const live = new Uint8Array(cap);
    remap(this.rOff, off);
    remap(this.rLen, len);
    remap(this.rAt, at);
    remap(this.rSeq, seq);
    remap(this.rLive, live);
    const heap = new Int32Array(cap);
    for (let i = 0; i < this.heapN; i++) heap[i] = (this.heap[i]! - f + old) % old;
    this.rOff = off;
    this.rLen = len;
    this.rAt = at;
    this.rSeq = seq;
    this.rLive = live;
    this.heap = heap;
    this.rFront = 0;
  }

  private before(a: number, b: number): boolean {
    const ta = this.rAt[a]!;
    const tb = this.rAt[b]!;
    return ta < tb || (ta === tb && this.rSeq[a]! < this.rSeq[b]!);
  }

  private up(i: number): void {
    const h = this.heap;
    const s = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(s, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = s;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = this.heapN;
    const s = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(h[c + 1]!, h[c]!)) c++;
      if (!this.before(h[c]!, s)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = s;
  }
}
