/**
 * Collects the samples of every run and prints them as one table: per metric the median of
 * the runs for each peer (with the range, so that noise shows), and the vnetkit/passt ratio.
 * @module
 */
import type { PeerKind } from './peers.js';

/** What a metric measures, and which direction is better. */
export interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Which direction is better; undefined for context that is neither (load, kernel share). */
  readonly higherIsBetter: boolean | undefined;
  /** Digits after the point. */
  readonly digits: number;
}

/** The metrics, in table order; `{mtu}` is filled in per MTU section. */
export const METRICS: readonly MetricSpec[] = [
  { key: 'up.gbps', label: 'TCP guest→host', unit: 'Gbit/s', higherIsBetter: true, digits: 2 },
  { key: 'down.gbps', label: 'TCP host→guest', unit: 'Gbit/s', higherIsBetter: true, digits: 2 },
  { key: 'up.cpuPerGB', label: 'CPU per GB, guest→host', unit: 's/GB', higherIsBetter: false, digits: 2 },
  { key: 'down.cpuPerGB', label: 'CPU per GB, host→guest', unit: 's/GB', higherIsBetter: false, digits: 2 },
  { key: 'up.sysShare', label: 'kernel share of that CPU, guest→host', unit: '%', higherIsBetter: undefined, digits: 0 },
  { key: 'down.sysShare', label: 'kernel share of that CPU, host→guest', unit: '%', higherIsBetter: undefined, digits: 0 },
  { key: 'up.core', label: 'CPU load during guest→host', unit: '% core', higherIsBetter: undefined, digits: 0 },
  { key: 'down.core', label: 'CPU load during host→guest', unit: '% core', higherIsBetter: undefined, digits: 0 },
  { key: 'up.relayCore', label: 'tap-relay CPU load during guest→host', unit: '% core', higherIsBetter: undefined, digits: 0 },
  { key: 'down.relayCore', label: 'tap-relay CPU load during host→guest', unit: '% core', higherIsBetter: undefined, digits: 0 },
  { key: 'up.syscallsPerMB', label: 'system calls per MB, guest→host', unit: 'calls', higherIsBetter: undefined, digits: 0 },
  { key: 'down.syscallsPerMB', label: 'system calls per MB, host→guest', unit: 'calls', higherIsBetter: undefined, digits: 0 },
  { key: 'up.retrans', label: 'guest TCP retransmits, guest→host', unit: 'segs', higherIsBetter: undefined, digits: 0 },
  { key: 'crr.rate', label: 'TCP connections, one at a time', unit: 'conn/s', higherIsBetter: true, digits: 0 },
  { key: 'crr.cpuPerK', label: 'CPU per 1000 connections', unit: 'ms', higherIsBetter: false, digits: 1 },
  { key: 'crrp.rate', label: 'TCP connections, several in flight', unit: 'conn/s', higherIsBetter: true, digits: 0 },
  { key: 'crrp.cpuPerK', label: 'CPU per 1000 connections, several in flight', unit: 'ms', higherIsBetter: false, digits: 1 },
  { key: 'crr.syscallsPer', label: 'system calls per connection', unit: 'calls', higherIsBetter: undefined, digits: 1 },
  { key: 'rr.rate', label: 'TCP request/response, 1 byte', unit: 'trans/s', higherIsBetter: true, digits: 0 },
  { key: 'rr.cpuPerK', label: 'CPU per 1000 request/responses', unit: 'ms', higherIsBetter: false, digits: 1 },
  { key: 'rr.syscallsPer', label: 'system calls per request/response', unit: 'calls', higherIsBetter: undefined, digits: 1 },
  { key: 'mem.idle', label: 'RSS with a guest attached, idle', unit: 'MiB', higherIsBetter: false, digits: 1 },
  { key: 'mem.peak', label: 'peak RSS (VmHWM) over the run', unit: 'MiB', higherIsBetter: false, digits: 1 },
];

/** Samples keyed by peer, MTU and metric. */
export class Results {
  private readonly samples = new Map<string, number[]>();

  add(peer: PeerKind, mtu: number, metric: string, value: number): void {
    if (!Number.isFinite(value)) return;
    const k = `${peer}|${mtu}|${metric}`;
    const list = this.samples.get(k) ?? [];
    list.push(value);
    this.samples.set(k, list);
  }

  get(peer: PeerKind, mtu: number, metric: string): readonly number[] {
    return this.samples.get(`${peer}|${mtu}|${metric}`) ?? [];
  }

  /** Every sample, for `--json`. */
  toJSON(): Record<string, number[]> {
    return Object.fromEntries(this.samples);
  }
}

/** The median (mean of the middle two for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function cell(xs: readonly number[], digits: number): string {
  if (xs.length === 0) return '-';
  const f = (x: number): string => x.toFixed(digits);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.length === 1 || lo === hi ? f(median(xs)) : `${f(median(xs))} (${f(lo)}–${f(hi)})`;
}

/**
 * Formats the table: one section per MTU, one row per metric with samples. The ratio is
 * vnetkit's median over passt's; the last column says which side that favours.
 */
export function formatTable(results: Results, mtus: readonly number[], peers: readonly PeerKind[]): string {
  const cols = [50, 24, 24, 6, 8];
  const pad = (s: string, i: number): string => (i === 0 ? s.padEnd(cols[i]!) : s.padStart(cols[i]!));
  const lines: string[] = [];
  const header = ['metric', 'vnetkit median (range)', 'passt median (range)', 'v/p', 'better'];
  for (const mtu of mtus) {
    lines.push('', `MTU ${mtu}`, header.map(pad).join(' '), cols.map((w) => '-'.repeat(w)).join(' '));
    for (const m of METRICS) {
      const v = results.get('vnetkit', mtu, m.key);
      const p = results.get('passt', mtu, m.key);
      if (v.length === 0 && p.length === 0) continue;
      const ratio = median(v) / median(p);
      const hasRatio = peers.length === 2 && Number.isFinite(ratio) && median(p) !== 0;
      const better =
        !hasRatio || m.higherIsBetter === undefined ? '' : ratio === 1 ? 'same' : ratio > 1 === m.higherIsBetter ? 'vnetkit' : 'passt';
      lines.push(
        [`${m.label} [${m.unit}]`, cell(v, m.digits), cell(p, m.digits), hasRatio ? ratio.toFixed(2) : '-', better].map(pad).join(' '),
      );
    }
  }
  return lines.join('\n');
}
