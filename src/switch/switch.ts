/**
 * A learning Ethernet bridge (IEEE 802.1D without spanning tree): known unicast goes to its
 * port, broadcast, multicast and unknown unicast are flooded to every other port, sources are
 * learnt with ageing. The gateway's stack is one more port (the "local" port, a permanent entry
 * for the gateway MAC). Each port queues on its own, so one slow NIC never stalls another.
 *
 * Frames entering from a port are borrowed; forwarding copies them into each destination port's
 * output buffer. The gateway emits through {@link Switch.begin}/{@link Switch.commit}: the frame is
 * written once, straight into the destination port's buffer (or a scratch buffer when flooding).
 * @module
 */
import type { Clock } from '../runtime/clock.js';
import { wallClockMs } from '../runtime/clock.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { ethDst, ethDstIsGroup, ethSrc, ethSrcIsGroup, ETH_HLEN } from '../wire/ethernet.js';
import type { PcapWriter } from '../wire/pcap.js';
import { MacTable, DEFAULT_MAC_AGEING_MS } from './mac-table.js';
import type { SwitchPort } from './port.js';

/** Largest frame any port can carry (MTU 65520 + Ethernet header, rounded up). */
export const MAX_FRAME = 65535 + ETH_HLEN;

/** Options for {@link Switch}. */
export interface SwitchOptions {
  clock: Clock;
  /** MAC ageing time in ms (default 300 s). */
  macAgeingMs?: number;
}

/** The bridge. */
export class Switch {
  private readonly ports = new Map<number, SwitchPort>();
  /** Ports in attach order, for flooding without allocating. */
  private portList: SwitchPort[] = [];
  private nextId = 1;
  private local: SwitchPort | undefined;
  private localMac = -1;
  readonly macs: MacTable;
  private capture: PcapWriter | undefined;
  /** Called when a port drains (its queue fell under high water), with the port id. */
  onPortDrain: ((portId: number) => void) | undefined;

  // Emission state between begin() and commit(); one producer at a time (single-threaded).
  private txPort: SwitchPort | undefined;
  /** Offset in the buffer returned by the last {@link begin}. */
  txOff = 0;
  private txBuf: Uint8Array = new Uint8Array(0);
  private readonly scratch = Buffer.allocUnsafeSlow(MAX_FRAME);
  private txFlood = false;
  private txSrcId = 0;

  constructor(private readonly opts: SwitchOptions) {
    this.macs = new MacTable(opts.clock, opts.macAgeingMs ?? DEFAULT_MAC_AGEING_MS);
  }

  /** Attaches a port and returns its id. */
  attach(port: SwitchPort): number {
    const id = this.nextId++;
    port.id = id;
    this.ports.set(id, port);
    this.portList = [...this.ports.values()];
    port.onDrain = () => this.onPortDrain?.(id);
    return id;
  }

  /** Attaches the gateway's stack as the local port, reachable at `mac`. */
  attachLocal(port: SwitchPort, mac: number): number {
    const id = this.attach(port);
    this.local = port;
    this.localMac = mac;
    return id;
  }

  /** Detaches a port and forgets every MAC learnt on it. */
  detach(port: SwitchPort): void {
    if (!this.ports.delete(port.id)) return;
    this.portList = [...this.ports.values()];
    this.macs.removePort(port.id);
    port.onDrain = undefined;
  }

  /**
   * Puts `next` in `current`'s place (same id, same learnt MACs; `next` takes over `onDrain`).
   * Middlewares such as network conditioning wrap a NIC's port this way at runtime. False when
   * `current` is not attached.
   */
  replace(current: SwitchPort, next: SwitchPort): boolean {
    if (this.ports.get(current.id) !== current) return false;
    next.id = current.id;
    this.ports.set(current.id, next);
    this.portList = [...this.ports.values()];
    if (this.local === current) this.local = next;
    next.onDrain = current.onDrain;
    return true;
  }

  /** The port with this id, if attached. */
  port(id: number): SwitchPort | undefined {
    return this.ports.get(id);
  }

  /** All attached ports. */
  allPorts(): readonly SwitchPort[] {
    return this.portList;
  }

  /** Starts (or replaces) capturing every frame that crosses the switch. */
  setCapture(w: PcapWriter | undefined): void {
    this.capture = w;
  }

  /** A frame arrived from `from`. The bytes are borrowed for the duration of the call. */
  input(from: SwitchPort, b: Uint8Array, off: number, len: number): void {
    const c = from.counters;
    c.framesIn++;
    c.bytesIn += len;
    if (len < ETH_HLEN) return c.drop(Drop.Truncated);
    if (len > from.maxFrame) return c.drop(Drop.TooBig);
    // A group source address is never legal (802.3 §3.2.3); learning it would poison the table.
    if (ethSrcIsGroup(b, off)) return c.drop(Drop.BadSource);
    if (this.capture !== undefined) this.capture.record(b, off, len, wallClockMs());
    const now = this.opts.clock.now();
    const src = ethSrc(b, off);
    if (src !== this.localMac && !this.macs.learn(src, from.id, now)) return c.drop(Drop.Limit);
    if (ethDstIsGroup(b, off)) return this.flood(from.id, b, off, len);
    const dst = ethDst(b, off);
    if (dst === this.localMac && this.local !== undefined) {
      this.count(this.local, this.local.deliver(b, off, len), len);
      return;
    }
    const pid = this.macs.lookup(dst, now);
    if (pid < 0) return this.flood(from.id, b, off, len);
    if (pid === from.id) return; // already on the right segment (802.1D §7.7.1 filtering)
    const to = this.ports.get(pid);
    if (to === undefined) return this.flood(from.id, b, off, len);
    this.count(to, to.deliver(b, off, len), len);
  }

  /**
   * Begins a frame of `len` bytes from the local port to `dstMac`. Returns the buffer to write
   * the whole frame into at {@link txOff}, or `undefined` when the destination cannot take it
   * now (the drop is counted on that port). Must be followed by {@link commit} before the next begin.
   */
  begin(dstMac: number, len: number, fromId = this.local?.id ?? 0): Uint8Array | undefined {
    this.txSrcId = fromId;
    const pid = (Math.floor(dstMac / 0x10000000000) & 1) === 1 ? -1 : this.macs.lookup(dstMac);
    const to = pid < 0 ? undefined : this.ports.get(pid);
    if (to === undefined) {
      if (len > MAX_FRAME) return undefined;
      this.txFlood = true;
      this.txPort = undefined;
      this.txOff = 0;
      this.txBuf = this.scratch;
      return this.scratch;
    }
    if (len > to.maxFrame) {
      to.counters.drop(Drop.TooBig);
      return undefined;
    }
    const o = to.reserve(len);
    if (o < 0) {
      to.counters.drop(Drop.TxFull);
      return undefined;
    }
    this.txFlood = false;
    this.txPort = to;
    this.txOff = o;
    this.txBuf = to.txBuf;
    return this.txBuf;
  }

  /** Sends the frame started by {@link begin}. */
  commit(len: number): void {
    const b = this.txBuf;
    const off = this.txOff;
    if (this.capture !== undefined) this.capture.record(b, off, len, wallClockMs());
    if (this.txFlood) {
      this.flood(this.txSrcId, b, off, len);
      return;
    }
    const to = this.txPort!;
    to.commit(off, len);
    to.counters.framesOut++;
    to.counters.bytesOut += len;
  }

  /** Whether the port that `dstMac` lives on can take frames now (unknown → true: flooding drops per port). */
  writableTo(dstMac: number): boolean {
    const pid = this.macs.lookup(dstMac);
    const to = pid < 0 ? undefined : this.ports.get(pid);
    return to === undefined || to.writable;
  }

  /** The port id `dstMac` lives on, or -1. */
  portIdOf(dstMac: number): number {
    return this.macs.lookup(dstMac);
  }

  private flood(fromId: number, b: Uint8Array, off: number, len: number): void {
    const list = this.portList;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.id === fromId) continue;
      this.count(p, p.deliver(b, off, len), len);
    }
  }

  private count(p: SwitchPort, r: DropCode, len: number): void {
    if (r === Drop.None) {
      p.counters.framesOut++;
      p.counters.bytesOut += len;
    } else {
      p.counters.drop(r);
    }
  }
}
