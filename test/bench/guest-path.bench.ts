/**
 * vnetkit against passt on the same guest path: a network-namespace guest (the e2e harness's
 * TAP + tap-relay, QEMU stream framing) attached to either peer's Unix socket, talking to
 * servers on host 127.0.0.1. Run by hand as root on Linux (not part of the test glob; nothing
 * here passes or fails):
 *
 *   node --import tsx test/bench/guest-path.bench.ts [--runs 5] [--seconds 10] [--mtu 1500,65520]
 *        [--peers vnetkit,passt] [--tests up,down,crr,crrp,rr] [--parallel 8] [--runner compiled|tsx]
 *        [--node-args=--max-semi-space-size=32] [--repo PATH] [--profile] [--json FILE] [--keep]
 *
 * Each run starts a fresh peer process per MTU, attaches a fresh guest, and measures: iperf3
 * throughput both ways (JSON output), connections per second (one at a time, and `--parallel`
 * in flight) and 1-byte request/response rate (`guest-path/net-probe.c`), the peer's CPU seconds per GB (utime + stime from /proc) and its
 * RSS (idle, and VmHWM at the end). Peers alternate order between runs so that background load
 * hits both alike. The table shows medians over the runs with their range, and vnetkit/passt.
 * `--profile` instead runs vnetkit alone under `node --cpu-prof`, one process per workload,
 * and prints the functions and files with the most self time.
 *
 * Needs: root, `ip`, /dev/net/tun, a C compiler, iperf3, passt (for the comparison).
 * Traffic stays on loopback: see `guest-path/peers.ts`.
 * @module
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { e2eSkipReason } from '../e2e/harness/netns.js';
import { createBenchGuest } from './guest-path/bench-guest.js';
import { formatProfile, summariseProfile } from './guest-path/cpu-profile.js';
import { describeEnvironment, formatEnvironment, loadLine } from './guest-path/environment.js';
import { freeLoopbackPort, startIperfServer } from './guest-path/iperf.js';
import { buildNetProbe, startEchoServer } from './guest-path/net-probe.js';
import { peerSkipReason, startPeer, type PeerKind } from './guest-path/peers.js';
import { readMemory } from './guest-path/proc-stats.js';
import { Results, formatTable } from './guest-path/results-table.js';
import { prepareVnetkit, type VnetkitRunner } from './guest-path/vnetkit-command.js';
import { syscallCountSkipReason } from './guest-path/syscall-count.js';
import { TESTS, runWorkload, type TestName } from './guest-path/workloads.js';
import type { VnetkitCommand } from './guest-path/peers.js';

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');

interface BenchOptions {
  runs: number;
  seconds: number;
  mtus: number[];
  peers: PeerKind[];
  tests: TestName[];
  parallel: number;
  runner: VnetkitRunner;
  /** The vnetkit checkout to measure (default: this one), e.g. a `git worktree` of a baseline. */
  repo: string;
  /** Extra `node` flags for vnetkit, e.g. `--max-semi-space-size=32`. */
  nodeArgs: string[];
  profile: boolean;
  syscalls: boolean;
  json: string | undefined;
  keep: boolean;
}

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${flag}: ${i} is not one of ${allowed.join(', ')}`);
  return items as T[];
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag}: want a positive number, got ${value}`);
  return n;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '10' },
      mtu: { type: 'string', default: '1500,65520' },
      peers: { type: 'string', default: 'vnetkit,passt' },
      tests: { type: 'string', default: TESTS.join(',') },
      parallel: { type: 'string', default: '8' },
      runner: { type: 'string', default: 'compiled' },
      'node-args': { type: 'string', default: '' },
      repo: { type: 'string', default: REPO },
      profile: { type: 'boolean', default: false },
      syscalls: { type: 'boolean', default: false },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const mtus = v.mtu.split(',').map((m) => positive('mtu', m));
  for (const m of mtus) if (!Number.isInteger(m) || m < 576 || m > 65520) throw new Error(`--mtu: ${m} is outside 576..65520`);
  return {
    runs: Math.floor(positive('runs', v.runs)),
    seconds: positive('seconds', v.seconds),
    mtus,
    peers: v.profile ? ['vnetkit'] : list('peers', v.peers, ['vnetkit', 'passt'] as const),
    tests: list('tests', v.tests, TESTS),
    parallel: Math.floor(positive('parallel', v.parallel)),
    runner: list('runner', v.runner, ['compiled', 'tsx'] as const)[0] ?? 'compiled',
    nodeArgs: v['node-args'].split(' ').filter(Boolean),
    repo: resolve(v.repo),
    profile: v.profile,
    syscalls: v.syscalls,
    json: v.json,
    keep: v.keep,
  };
}

/** The servers on host 127.0.0.1 and the built tools, shared by every run. */
interface Fixture {
  dir: string;
  probeBin: string;
  echoPort: number;
  closePort: number;
  iperfPort: number;
  vnetkit: VnetkitCommand;
}

/** One peer, one MTU, one fresh process and guest: every selected workload, then memory. */
async function runGroup(f: Fixture, o: BenchOptions, kind: PeerKind, mtu: number, label: string, results: Results): Promise<void> {
  const dir = join(f.dir, label);
  mkdirSync(dir, { recursive: true });
  const cpuProfDir = o.profile ? join(dir, 'prof') : undefined;
  const peer = await startPeer({ kind, mtu, dir, vnetkit: f.vnetkit, ...(cpuProfDir ? { cpuProfDir } : {}) });
  const summaries: string[] = [];
  try {
    const guest = await createBenchGuest(peer, mtu, f.probeBin, f.echoPort);
    try {
      results.add(kind, mtu, 'mem.idle', readMemory(peer.pid).rssMiB);
      const ctx = {
        ...{ guest, peer, probeBin: f.probeBin, echoPort: f.echoPort, closePort: f.closePort, iperfPort: f.iperfPort },
        ...{ seconds: o.seconds, parallel: o.parallel, syscalls: o.syscalls },
      };
      for (const test of o.tests) {
        const r = await runWorkload(test, ctx);
        for (const [k, value] of Object.entries(r.metrics)) results.add(kind, mtu, k, value);
        summaries.push(r.summary);
      }
      results.add(kind, mtu, 'mem.peak', readMemory(peer.pid).peakMiB);
    } finally {
      await guest.close();
    }
  } catch (e) {
    throw new Error(`${label}: ${e instanceof Error ? e.message : String(e)}\n${kind} output:\n${peer.output()}`);
  } finally {
    await peer.stop();
  }
  console.error(`  ${label}: ${summaries.join('; ')}  [${loadLine()}]`);
  if (cpuProfDir) {
    for (const file of readdirSync(cpuProfDir).filter((n) => n.endsWith('.cpuprofile'))) {
      console.log(`\n${formatProfile(`${label} (${join(cpuProfDir, file)})`, summariseProfile(join(cpuProfDir, file), 20))}`);
    }
  }
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const needIperf = o.tests.includes('up') || o.tests.includes('down');
  const skip = e2eSkipReason(needIperf ? ['iperf3'] : []);
  if (skip) {
    console.log(`SKIP guest-path benchmark: ${skip}`);
    return 0;
  }
  for (const p of o.peers) {
    const why = peerSkipReason(p);
    if (why) {
      console.log(`note: leaving out ${p}: ${why}`);
      o.peers = o.peers.filter((x) => x !== p);
    }
  }
  if (o.syscalls && syscallCountSkipReason()) throw new Error(`--syscalls: ${syscallCountSkipReason()}`);
  const env = describeEnvironment(o.repo);
  console.log(formatEnvironment(env));
  console.log(`options: ${o.runs} runs, ${o.seconds} s per workload, MTU ${o.mtus.join('/')}, tests ${o.tests.join(',')}, crrp parallel ${o.parallel}, vnetkit ${o.runner}${o.nodeArgs.length ? ` (node ${o.nodeArgs.join(' ')})` : ''}`);
  console.log(`start: ${loadLine()}`);

  // Short path: Unix socket paths are limited to 107 bytes.
  const dir = mkdtempSync('/tmp/vnk-bench-');
  const stops: Array<() => void> = [];
  try {
    console.error(`preparing: net-probe, vnetkit (${o.runner}) in ${dir}`);
    const probeBin = await buildNetProbe(dir);
    const prepared = o.peers.includes('vnetkit') ? await prepareVnetkit(o.repo, o.runner, dir) : { command: { nodeArgs: [], cwd: o.repo }, warnings: '' };
    const { warnings } = prepared;
    const vnetkit = { ...prepared.command, nodeArgs: [...o.nodeArgs, ...prepared.command.nodeArgs] };
    if (warnings) console.error(`note: tsc reported type errors; the emitted JavaScript is measured anyway:\n${warnings.slice(0, 2000)}`);
    const echo = await startEchoServer(probeBin, false);
    stops.push(echo.stop);
    const closing = await startEchoServer(probeBin, true);
    stops.push(closing.stop);
    const iperfPort = await freeLoopbackPort();
    if (needIperf) stops.push((await startIperfServer(iperfPort)).stop);
    const f: Fixture = { dir, probeBin, echoPort: echo.port, closePort: closing.port, iperfPort, vnetkit };

    const results = new Results();
    const runs = o.profile ? 1 : o.runs;
    for (let run = 1; run <= runs; run++) {
      console.error(`run ${run}/${runs}`);
      for (const mtu of o.mtus) {
        // Alternate the order so that a burst of background load does not always hit one peer.
        const order = run % 2 === 1 ? o.peers : [...o.peers].reverse();
        for (const kind of order) {
          if (o.profile) {
            for (const test of o.tests) await runGroup(f, { ...o, tests: [test] }, kind, mtu, `${kind}-${mtu}-${test}`, results);
          } else {
            await runGroup(f, o, kind, mtu, `r${run}-${kind}-${mtu}`, results);
          }
        }
      }
    }
    console.log(`end: ${loadLine()}`);
    if (!o.profile) console.log(formatTable(results, o.mtus, o.peers));
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ environment: env, options: o, samples: results.toJSON() }, null, 2)}\n`);
    return 0;
  } finally {
    for (const stop of stops) stop();
    if (o.keep) console.error(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
