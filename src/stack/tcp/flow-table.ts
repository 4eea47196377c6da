/**
 * A two-level map keyed by numbers, for 4-tuples without strings or allocation per lookup
 * (style.md §5.2): the outer key is the guest's `ip * 65536 + port` (48 bits, exact in a double),
 * the inner key the other end's. Per-guest teardown walks one outer bucket per guest port.
 * @module
 */

/** `ip * 65536 + port`: one end of a flow as a number. */
export function endKey(ip: number, port: number): number {
  return ip * 65536 + port;
}

/** IPv4 address of an {@link endKey}. */
export function endKeyIp(k: number): number {
  return Math.floor(k / 65536);
}

/** Values keyed by (guest end, other end). */
export class FlowTable<V> {
  private readonly outer = new Map<number, Map<number, V>>();
  /** Number of values. */
  size = 0;

  get(guest: number, other: number): V | undefined {
    const m = this.outer.get(guest);
    return m === undefined ? undefined : m.get(other);
  }

  set(guest: number, other: number, v: V): void {
    let m = this.outer.get(guest);
    if (m === undefined) {
      m = new Map();
      this.outer.set(guest, m);
    }
    if (!m.has(other)) this.size++;
    m.set(other, v);
  }

  delete(guest: number, other: number): boolean {
    const m = this.outer.get(guest);
    if (m === undefined || !m.delete(other)) return false;
    this.size--;
    if (m.size === 0) this.outer.delete(guest);
    return true;
  }

  /** Every value (a copy: callers may delete while walking it). */
  values(): V[] {
    const out: V[] = [];
    for (const m of this.outer.values()) for (const v of m.values()) out.push(v);
    return out;
  }

  /** Values whose guest end is at `ip` (a copy). */
  valuesOfGuest(ip: number): V[] {
    const out: V[] = [];
    for (const [k, m] of this.outer) if (endKeyIp(k) === ip) for (const v of m.values()) out.push(v);
    return out;
  }
}
