/**
 * MAC → port learning table with ageing (IEEE 802.1D §7.9: entries unseen for the ageing time
 * are forgotten, default 300 s) and a per-port cap so one port flooding random source MACs cannot
 * grow memory without bound or evict everyone else.
 * @module
 */
import type { Clock } from '../runtime/clock.js';

/** Default ageing time, ms (802.1D default 300 s). */
export const DEFAULT_MAC_AGEING_MS = 300_000;
/** Default cap of MACs learnt per port. */
export const DEFAULT_MACS_PER_PORT = 1024;

interface Entry {
  portId: number;
  seen: number;
}

/** The learning table. Ports are referred to by id. */
export class MacTable {
  private readonly byMac = new Map<number, Entry>();
  private readonly perPort = new Map<number, Set<number>>();

  constructor(
    private readonly clock: Clock,
    readonly ageingMs = DEFAULT_MAC_AGEING_MS,
    readonly maxPerPort = DEFAULT_MACS_PER_PORT,
  ) {}

  /** Records that `mac` was seen as a source on `portId`. Returns false when the port is at its cap. */
  learn(mac: number, portId: number, now = this.clock.now()): boolean {
    const e = this.byMac.get(mac);
    if (e !== undefined && e.portId === portId) {
      e.seen = now;
      return true;
    }
    let set = this.perPort.get(portId);
    if (set === undefined) {
      set = new Set();
      this.perPort.set(portId, set);
    }
    if (set.size >= this.maxPerPort) {
      this.expirePort(portId, now);
      if (set.size >= this.maxPerPort) return false;
    }
    if (e !== undefined) {
      // The station moved to another port.
      this.perPort.get(e.portId)?.delete(mac);
      e.portId = portId;
      e.seen = now;
    } else {
      this.byMac.set(mac, { portId, seen: now });
    }
    set.add(mac);
    return true;
  }

  /**
   * The port id for `mac`, or -1 when unknown or aged out. An aged entry is kept until the MAC is
   * seen again, the port's cap needs room, or the port goes: {@link macsOf} and
   * {@link lastKnownPort} still know it when its port is detached.
   */
  lookup(mac: number, now = this.clock.now()): number {
    const e = this.byMac.get(mac);
    if (e === undefined) return -1;
    return now - e.seen > this.ageingMs ? -1 : e.portId;
  }

  /** The port `mac` was last seen on, aged or not, or -1: for attribution, never to forward. */
  lastKnownPort(mac: number): number {
    return this.byMac.get(mac)?.portId ?? -1;
  }

  /** Forgets every MAC of a port (port removal). */
  removePort(portId: number): void {
    const set = this.perPort.get(portId);
    if (set === undefined) return;
    for (const mac of set) this.byMac.delete(mac);
    this.perPort.delete(portId);
  }

  /** Forgets one MAC. */
  forget(mac: number): void {
    const e = this.byMac.get(mac);
    if (e === undefined) return;
    this.byMac.delete(mac);
    this.perPort.get(e.portId)?.delete(mac);
  }

  /** Number of MACs currently known. */
  get size(): number {
    return this.byMac.size;
  }

  /** MACs learnt on a port (for stats). */
  macsOf(portId: number): number[] {
    return [...(this.perPort.get(portId) ?? [])];
  }

  private expirePort(portId: number, now: number): void {
    const set = this.perPort.get(portId);
    if (set === undefined) return;
    for (const mac of set) {
      const e = this.byMac.get(mac);
      if (e !== undefined && now - e.seen > this.ageingMs) {
        this.byMac.delete(mac);
        set.delete(mac);
      }
    }
  }
}
