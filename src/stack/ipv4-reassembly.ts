/**
 * IPv4 reassembly on the gateway (RFC 791 §3.2 "Fragmentation and Reassembly", RFC 815's hole
 * list, RFC 1122 §3.3.2). Guests fragment datagrams larger than their link MTU (a 60 KiB UDP
 * datagram from a 1500-byte-MTU guest arrives as 42 frames); the gateway puts them back together
 * and hands the complete datagram to its normal path, so the UDP NAT, DNS and ICMP see one packet.
 *
 * Entry point: {@link Ipv4Reassembler.input} takes a fragment as {@link parseFrame} left it
 * (`info.fragment === true`, L3 parsed, L4 not), which is what `GatewayLayers.fragment` receives.
 * A complete datagram is rebuilt as a whole Ethernet frame in the datagram's buffer, parsed (L4
 * checksums verified over the reassembled payload) and passed to the `deliver` callback as a
 * {@link FrameInfo}; the buffer is borrowed for that call only, like any frame.
 *
 * Buffers and limits. Fragments are borrowed views, so their bytes are copied into one buffer
 * per datagram, laid out as the final frame: data byte `i` lives at `HEAD + i`, and the Ethernet
 * and IP headers of fragment zero are written just before it, so completion needs no move.
 * Memory is bounded three ways: a datagram holds at most 65,535 bytes of IP (a fragment whose
 * offset + total length exceeds that is dropped: the "ping of death", RFC 791 §3.1 total length);
 * all buffers together stay under a byte budget; at most `maxDatagrams` datagrams are in progress.
 * Either limit evicts the oldest datagram first (it is also the one closest to timing out).
 *
 * Timeout. Each datagram gets a fixed lifetime from its first fragment, not from the TTL (RFC
 * 1122 §3.3.2). We use 30 s, like Linux's `ipfrag_time`, rather than RFC 1122's suggested
 * 60–120 s: the link to a guest is a local stream that does not reorder or delay by seconds, so a
 * fragment missing after 30 s is lost, and holding its buffer longer only shrinks the budget left
 * for live datagrams. All datagrams share the same lifetime, so they expire in arrival order: one
 * {@link Timer} on the injected scheduler, armed for the oldest, serves them all. When a datagram
 * whose fragment zero arrived times out, an ICMP time exceeded, code 1 "fragment reassembly time
 * exceeded", goes back to its source (RFC 792; RFC 1122 §3.2.2.4), quoting fragment zero's header
 * and first 8 data bytes; without fragment zero none is sent (RFC 792: "no time exceeded need be
 * sent at all"). Evictions under memory pressure send nothing.
 *
 * Overlaps. Exact duplicates and overlaps whose bytes agree with what already arrived are
 * accepted (a retransmitted or differently re-fragmented copy of the same datagram gives the same
 * result whichever copy wins). An overlap that *disagrees* — or a second "last fragment" with a
 * different end, or data beyond the end — makes the datagram ambiguous: which bytes a receiver
 * keeps decides what it sees, the trick of the overlapping-fragment attacks (RFC 1858 §4,
 * Teardrop). As RFC 5722 §4 requires for IPv6, the whole datagram is then discarded silently,
 * and so are its fragments still to come: the entry stays as a bufferless tombstone until its
 * timeout.
 * @module
 */
import type { Runtime } from '../runtime/runtime.js';
import { Timer } from '../runtime/scheduler.js';
import { setU16be } from '../wire/bytes.js';
import { checksum } from '../wire/checksum.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { FrameInfo, parseFrame } from '../wire/frame-info.js';
import { ipFragOffset, ipId, ipMoreFragments } from '../wire/ipv4.js';
import type { Ipv4Output } from './ip-output.js';
import { HoleList } from './ipv4-holes.js';
import { sendReassemblyTimeExceeded } from './ipv4-time-exceeded.js';

/** Largest IPv4 datagram: the total length field is 16 bits (RFC 791 §3.1). */
export const IPV4_MAX_DATAGRAM = 65535;
/** Room before the data: Ethernet header + the largest IPv4 header (IHL 15 × 4). */
const HEAD = ETH_HLEN + 60;
/** Most data bytes a datagram can carry (its header is at least 20 bytes). */
const MAX_DATA = IPV4_MAX_DATAGRAM - 20;
/** A new datagram's buffer before its end is known; doubled as fragments reach further. */
const FIRST_CAPACITY = 16 * 1024;

/** Options of {@link Ipv4Reassembler}. */
export interface Ipv4ReassemblerOptions {
  /** Clock and scheduler for the reassembly timeout. */
  readonly runtime: Pick<Runtime, 'clock' | 'scheduler'>;
  /** Receives each complete datagram as a parsed frame; `info` and its buffer are borrowed for the call. */
  readonly deliver: (info: FrameInfo) => void;
  /** Where ICMP time exceeded is sent through; omitted = never sent. */
  readonly output?: Ipv4Output;
  /** Lifetime of an incomplete datagram, ms. Default 30 000 (see the module comment). */
  readonly timeoutMs?: number;
  /** Most datagrams in progress (tombstones included). Default 64. */
  readonly maxDatagrams?: number;
  /** Bytes all reassembly buffers may hold together. Default 4 MiB (Linux's `ipfrag_high_thresh`). */
  readonly budgetBytes?: number;
  /** Verify L4 checksums of reassembled datagrams (default true). */
  readonly verifyChecksums?: boolean;
  /** Destinations that never cause ICMP errors besides limited broadcast and multicast (the subnet broadcast). */
  readonly isBroadcast?: (ip: number) => boolean;
}

/** Counters of the reassembler. */
export interface Ipv4ReassemblyStats {
  /** Fragments given to {@link Ipv4Reassembler.input}. */
  fragments: number;
  /** Datagrams completed and delivered. */
  reassembled: number;
  /** Datagrams that timed out incomplete. */
  timedOut: number;
  /** ICMP time exceeded messages sent for them. */
  timeExceededSent: number;
  /** Datagrams evicted for the datagram cap or the byte budget. */
  evicted: number;
  /** Datagrams discarded for an inconsistent overlap or end. */
  overlaps: number;
  /** Fragments that brought no new byte (exact or consistent duplicates). */
  duplicates: number;
  /** Fragments past 65,535 bytes, and datagrams whose header + data would be. */
  oversize: number;
  /** Fragments that are malformed (MF set with a length not a multiple of 8, or empty), or completed datagrams failing their L4 check. */
  invalid: number;
  /** Fragments of a discarded datagram, dropped on arrival. */
  discarded: number;
  /** Datagrams in progress now (tombstones included). */
  inProgress: number;
  /** Bytes held by reassembly buffers now. */
  bytesInUse: number;
}

/** One datagram being reassembled, keyed by (src, dst, protocol, id) (RFC 791 §3.2). */
class Datagram {
  /** Another datagram with the same src and id but a different dst or protocol. */
  sameKey: Datagram | undefined;
  older: Datagram | undefined;
  newer: Datagram | undefined;
  buf: Buffer | undefined;
  readonly holes = new HoleList();
  /** Data length, known once the last fragment (MF = 0) arrived; -1 before. */
  total = -1;
  /** Highest data end received. */
  maxEnd = 0;
  /** Header length of fragment zero; 0 until it arrived. */
  hl0 = 0;
  /** Ethernet source of fragment zero (where ICMP goes back to). */
  mac0 = -1;
  /** Set once discarded: fragments still to come are dropped until {@link deadline}. */
  dead = false;
  constructor(
    readonly key: number,
    readonly src: number,
    readonly dst: number,
    readonly protocol: number,
    readonly deadline: number,
  ) {}
}

/** Reassembles IPv4 fragments from guests. */
export class Ipv4Reassembler {
  readonly stats: Ipv4ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    timedOut: 0,
    timeExceededSent: 0,
    evicted: 0,
    overlaps: 0,
    duplicates: 0,
    oversize: 0,
    invalid: 0,
    discarded: 0,
    inProgress: 0,
    bytesInUse: 0,
  };
  private readonly table = new Map<number, Datagram>();
  private oldest: Datagram | undefined;
  private newest: Datagram | undefined;
  private readonly timer = new Timer((now) => this.expire(now));
  private readonly info = new FrameInfo();
  private readonly timeoutMs: number;
  private readonly maxDatagrams: number;
  private readonly budget: number;
  private readonly verify: boolean;
  // The fragment being compared in input(); fields instead of a closure per fragment.
  private cmpSrc: Uint8Array = new Uint8Array(0);
  private cmpSrcOff = 0;
  private cmpDst: Uint8Array = new Uint8Array(0);
  private readonly sameBytes = (first: number, end: number): boolean => {
    const a = this.cmpSrc;
    const b = this.cmpDst;
    const d = this.cmpSrcOff;
    for (let i = first; i < end; i++) if (a[d + i] !== b[HEAD + i]) return false;
    return true;
  };

  constructor(private readonly opts: Ipv4ReassemblerOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxDatagrams = Math.max(1, opts.maxDatagrams ?? 64);
    this.budget = opts.budgetBytes ?? 4 * 1024 * 1024;
    this.verify = opts.verifyChecksums ?? true;
  }

  /**
   * Takes one fragment (`info.fragment`, as parsed by {@link parseFrame}; borrowed). Returns
   * {@link Drop.None} when it was kept (or completed a datagram that was delivered), else why
   * it was dropped, for the caller's drop counters.
   */
  input(info: FrameInfo): DropCode {
    const st = this.stats;
    st.fragments++;
    const b = info.buf;
    const l3 = info.l3;
    const first = ipFragOffset(b, l3);
    const len = info.l4Len;
    const end = first + len;
    const more = ipMoreFragments(b, l3);
    // Every fragment but the last carries a multiple of 8 data bytes (RFC 791 §3.2); an empty
    // non-last fragment carries nothing and could only pin a buffer.
    if (more && (len === 0 || (len & 7) !== 0)) {
      st.invalid++;
      return Drop.BadLength;
    }
    // The "ping of death": offset + total length beyond the 16-bit total length field.
    if (first + info.ipTotalLen > IPV4_MAX_DATAGRAM) {
      st.oversize++;
      return Drop.TooBig;
    }
    const key = info.srcIp * 65536 + ipId(b, l3);
    let d = this.lookup(key, info.srcIp, info.dstIp, info.protocol);
    if (d === undefined) d = this.create(key, info);
    else if (d.dead) {
      st.discarded++;
      return Drop.Fragment;
    }
    // The datagram's end: a second last fragment must agree, and nothing may lie beyond it.
    if ((d.total >= 0 && (end > d.total || (!more && end !== d.total))) || (!more && d.maxEnd > end)) return this.inconsistent(d);
    // Bytes already received must match (see the module comment on overlaps).
    if (d.buf !== undefined && d.maxEnd > first) {
      this.cmpSrc = b;
      this.cmpSrcOff = info.l4 - first;
      this.cmpDst = d.buf;
      const consistent = d.holes.forEachFilled(first, Math.min(end, d.maxEnd), this.sameBytes);
      this.cmpSrc = this.cmpDst = EMPTY;
      if (!consistent) return this.inconsistent(d);
      // Nothing new (an exact or consistent duplicate), unless it is the first word on the end.
      if (!d.holes.anyMissing(first, end) && (more || d.total >= 0)) {
        st.duplicates++;
        return Drop.None;
      }
    }
    if (!this.reserve(d, end, more)) return Drop.Limit;
    const into = d.buf!;
    into.set(b.subarray(info.l4, info.l4 + len), HEAD + first);
    if (first === 0 && d.hl0 === 0) {
      // Fragment zero's headers become the datagram's (RFC 791 §3.2: the first fragment's
      // header, options included, is the reassembled header).
      const hl = info.ipHeaderLen;
      d.hl0 = hl;
      d.mac0 = info.srcMac;
      into.set(b.subarray(info.off, info.off + ETH_HLEN), HEAD - hl - ETH_HLEN);
      into.set(b.subarray(l3, l3 + hl), HEAD - hl);
    }
    if (end > d.maxEnd) d.maxEnd = end;
    if (!more) d.total = end;
    // Fragment zero's options may make header + data exceed 65,535 although no fragment did.
    if (d.hl0 > 0 && d.hl0 + (d.total >= 0 ? d.total : d.maxEnd) > IPV4_MAX_DATAGRAM) {
      st.oversize++;
      return this.discard(d);
    }
    d.holes.fill(first, end, more);
    if (d.hl0 > 0 && d.total >= 0 && d.holes.isEmpty()) return this.complete(d);
    return Drop.None;
  }

  /** Discards every datagram in progress and stops the timer. */
  close(): void {
    while (this.oldest !== undefined) this.remove(this.oldest);
    this.opts.runtime.scheduler.disarm(this.timer);
  }

  private lookup(key: number, src: number, dst: number, protocol: number): Datagram | undefined {
    for (let d = this.table.get(key); d !== undefined; d = d.sameKey) if (d.src === src && d.dst === dst && d.protocol === protocol) return d;
    return undefined;
  }

  private create(key: number, info: FrameInfo): Datagram {
    while (this.stats.inProgress >= this.maxDatagrams && this.oldest !== undefined) this.evict(this.oldest);
    const now = this.opts.runtime.clock.now();
    const d = new Datagram(key, info.srcIp, info.dstIp, info.protocol, now + this.timeoutMs);
    d.sameKey = this.table.get(key);
    this.table.set(key, d);
    d.older = this.newest;
    if (this.newest !== undefined) this.newest.newer = d;
    else this.oldest = d;
    this.newest = d;
    this.stats.inProgress++;
    // Every datagram lives equally long, so the oldest expires first: one timer for all.
    if (d === this.oldest) this.opts.runtime.scheduler.arm(this.timer, d.deadline);
    return d;
  }

  /**
   * Makes `d`'s buffer hold data up to `end` (the whole datagram when its length is known:
   * `more` false now, or a last fragment before). Evicts older datagrams while the budget is
   * short; when even that cannot make room, discards `d` and returns false.
   */
  private reserve(d: Datagram, end: number, more: boolean): boolean {
    const total = more ? d.total : end;
    const need = HEAD + (total >= 0 ? total : end);
    const have = d.buf?.length ?? 0;
    if (need <= have) return true;
    // Unknown end: grow geometrically so a datagram arriving in order is copied O(log n) times.
    const cap = total >= 0 ? need : Math.min(HEAD + MAX_DATA, Math.max(need, have * 2, HEAD + FIRST_CAPACITY));
    const extra = cap - have;
    for (let o = this.oldest; this.stats.bytesInUse + extra > this.budget && o !== undefined; ) {
      const next = o.newer;
      if (o !== d && o.buf !== undefined) this.evict(o);
      o = next;
    }
    if (this.stats.bytesInUse + extra > this.budget) {
      this.stats.evicted++;
      this.discard(d);
      return false;
    }
    const nb = Buffer.allocUnsafeSlow(cap);
    if (d.buf !== undefined) nb.set(d.buf.subarray(0, HEAD + d.maxEnd));
    this.release(d);
    d.buf = nb;
    this.stats.bytesInUse += cap;
    return true;
  }

  private complete(d: Datagram): DropCode {
    const buf = d.buf!;
    const hl = d.hl0;
    const ip = HEAD - hl;
    const start = ip - ETH_HLEN;
    // One datagram now: its real total length, no MF, offset 0, a fresh header checksum.
    setU16be(buf, ip + 2, hl + d.total);
    setU16be(buf, ip + 6, 0);
    setU16be(buf, ip + 10, 0);
    setU16be(buf, ip + 10, checksum(buf, ip, hl));
    // Out of the table before delivery: whatever the handler does, this datagram is finished.
    this.forget(d);
    const r = parseFrame(buf, start, ETH_HLEN + hl + d.total, this.info, this.verify);
    if (r === Drop.None) {
      this.stats.reassembled++;
      this.opts.deliver(this.info);
    } else this.stats.invalid++;
    this.release(d);
    return r;
  }

  /** An overlap or end that disagrees with what arrived: the datagram is ambiguous (RFC 5722 §4). */
  private inconsistent(d: Datagram): DropCode {
    this.stats.overlaps++;
    return this.discard(d);
  }

  /** Drops `d`'s data and keeps it as a bufferless tombstone until its deadline. */
  private discard(d: Datagram): DropCode {
    d.dead = true;
    this.release(d);
    return Drop.Fragment;
  }

  private evict(d: Datagram): void {
    if (!d.dead) this.stats.evicted++;
    this.remove(d);
  }

  private expire(now: number): void {
    let d = this.oldest;
    while (d !== undefined && d.deadline <= now) {
      if (!d.dead) {
        this.stats.timedOut++;
        // Only with fragment zero: its header and first 8 data bytes are the quote (RFC 792).
        const out = this.opts.output;
        if (d.hl0 > 0 && out !== undefined && sendReassemblyTimeExceeded(out, d.buf!, HEAD - d.hl0, d.hl0, d.mac0, this.opts.isBroadcast)) this.stats.timeExceededSent++;
      }
      this.remove(d);
      d = this.oldest;
    }
    if (d !== undefined) this.opts.runtime.scheduler.arm(this.timer, d.deadline);
  }

  /** Frees `d` entirely (table, age list, buffer). */
  private remove(d: Datagram): void {
    this.forget(d);
    this.release(d);
  }

  /** Takes `d` out of the table and the age list; the timer stops with the last datagram. */
  private forget(d: Datagram): void {
    this.unlink(d);
    this.stats.inProgress--;
    if (this.oldest === undefined) this.opts.runtime.scheduler.disarm(this.timer);
  }

  private release(d: Datagram): void {
    if (d.buf !== undefined) this.stats.bytesInUse -= d.buf.length;
    d.buf = undefined;
  }

  private unlink(d: Datagram): void {
    let p = this.table.get(d.key);
    if (p === d) {
      if (d.sameKey === undefined) this.table.delete(d.key);
      else this.table.set(d.key, d.sameKey);
    } else {
      while (p !== undefined && p.sameKey !== d) p = p.sameKey;
      if (p !== undefined) p.sameKey = d.sameKey;
    }
    if (d.older !== undefined) d.older.newer = d.newer;
    else this.oldest = d.newer;
    if (d.newer !== undefined) d.newer.older = d.older;
    else this.newest = d.older;
    d.older = d.newer = d.sameKey = undefined;
  }
}

const EMPTY = new Uint8Array(0);
