/**
 * The workloads, each measured against the network process's own CPU counters: `up` (iperf3
 * guest→host), `down` (iperf3 -R, host→guest), `crr` (connections per second, one at a time:
 * latency-bound), `crrp` (the same with several connections in flight: CPU-bound) and `rr`
 * (1-byte request/response rate over one connection).
 * @module
 */
import { performance } from 'node:perf_hooks';
import type { Guest } from '../../e2e/harness/netns.js';
import { runIperf } from './iperf.js';
import { runCrr, runRr } from './net-probe.js';
import type { Peer } from './peers.js';
import { cpuDelta, readCpu, type CpuSample } from './proc-stats.js';
import { countSyscalls } from './syscall-count.js';

/** Workload names, in the order they run. */
export const TESTS = ['up', 'down', 'crr', 'crrp', 'rr'] as const;
export type TestName = (typeof TESTS)[number];

/** What a workload needs. */
export interface WorkloadContext {
  readonly guest: Guest;
  readonly peer: Peer;
  readonly probeBin: string;
  /** Echo server that keeps connections open (`rr`). */
  readonly echoPort: number;
  /** Echo server that closes after the echo (`crr`, `crrp`). */
  readonly closePort: number;
  readonly iperfPort: number;
  readonly seconds: number;
  /** Connections kept in flight by `crrp`. */
  readonly parallel: number;
  /** Count the peer's system calls with perf (see `syscall-count.ts`). */
  readonly syscalls: boolean;
}

/** Metrics of one workload (keys as in `results-table.ts`) and a one-line summary. */
export interface WorkloadResult {
  readonly metrics: Record<string, number>;
  readonly summary: string;
}

const total = (c: CpuSample): number => c.user + c.system;

/** Runs `fn` and returns its result with the peer's CPU use and the wall time around it. */
async function measured<T>(
  c: WorkloadContext,
  fn: () => Promise<T>,
): Promise<{ value: T; cpu: CpuSample; relay: CpuSample; wall: number; syscalls: number }> {
  const pid = c.peer.pid;
  const relayPid = c.guest.relay.pid!;
  const counter = c.syscalls ? await countSyscalls(pid) : undefined;
  const before = readCpu(pid);
  const relayBefore = readCpu(relayPid);
  const t0 = performance.now();
  const value = await fn();
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuDelta(before, readCpu(pid));
  const relay = cpuDelta(relayBefore, readCpu(relayPid));
  return { value, cpu, relay, wall, syscalls: counter ? await counter.stop() : NaN };
}

/** Runs one workload in the guest against the peer. */
export async function runWorkload(test: TestName, c: WorkloadContext): Promise<WorkloadResult> {
  if (test === 'up' || test === 'down') {
    const { value: r, cpu, relay, wall, syscalls } = await measured(c, () => runIperf(c.guest, c.peer.target, c.iperfPort, c.seconds, test === 'down'));
    const gb = r.bytes / 1e9;
    const metrics: Record<string, number> = {
      [`${test}.gbps`]: r.bitsPerSecond / 1e9,
      [`${test}.cpuPerGB`]: total(cpu) / gb,
      [`${test}.sysShare`]: (100 * cpu.system) / total(cpu),
      [`${test}.core`]: (100 * total(cpu)) / wall,
      // The relay stands in for QEMU; well below 100 % it was not the bottleneck.
      [`${test}.relayCore`]: (100 * total(relay)) / wall,
      [`${test}.syscallsPerMB`]: syscalls / (r.bytes / 1e6),
    };
    if (test === 'up') metrics['up.retrans'] = r.retransmits;
    const summary = `${test} ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s, ${(total(cpu) / gb).toFixed(2)} CPU s/GB, ${r.retransmits} retr`;
    return { metrics, summary };
  }
  const { value: r, cpu, syscalls } = await measured(c, () =>
    test === 'rr'
      ? runRr(c.guest, c.probeBin, c.peer.target, c.echoPort, c.seconds)
      : runCrr(c.guest, c.probeBin, c.peer.target, c.closePort, c.seconds, test === 'crr' ? 1 : c.parallel),
  );
  const perK = (1e6 * total(cpu)) / r.transactions; // CPU ms per 1000 transactions
  return {
    metrics: { [`${test}.rate`]: r.perSecond, [`${test}.cpuPerK`]: perK, [`${test}.syscallsPer`]: syscalls / r.transactions },
    summary: `${test} ${r.perSecond.toFixed(0)}/s${r.errors > 0 ? ` (${r.errors} errors)` : ''}, ${perK.toFixed(1)} CPU ms/1000`,
  };
}
