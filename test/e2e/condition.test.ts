/**
 * Network conditioning, end to end, measured with real tools against a Linux kernel in a
 * namespace guest attached to a real VirtualNetwork over the QEMU-stream transport:
 *
 * - latency: ping RTT to the gateway grows by the added delay, within ±20 %;
 * - loss: 1,000 pings at 10 ms intervals lose what two independent 10 % draws predict, within
 *   ±4σ binomial bounds, and exactly what the conditioner's counters say it dropped;
 * - rate: iperf3 to a host server on 127.0.0.1 (via the host alias .254) runs at the cap ±15 %,
 *   both uplink (the guest's TCP against the backlog bound) and downlink (the gateway's TCP
 *   paced by the conditioner's backpressure);
 * - partition: traffic stops while `down`, and the same TCP connection delivers every byte
 *   after it is lifted (the endpoints retransmit).
 *
 * Conditioning is driven through `nic.condition()` as users get it. Needs root on Linux; skipped
 * with the reason otherwise.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Nic } from '../../src/nic.js';
import type { ConditionSpec } from '../../src/switch/condition-spec.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitUntil, withTimeout } from './harness/probes.js';

const skip = e2eSkipReason(['busybox', 'iperf3', 'nc']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/condition.test.ts: ${skip}`);

const GATEWAY = '192.168.65.1';
const HOST_ALIAS = '192.168.65.254';

let dir = '';
let net: VirtualNetwork | undefined;
const hostProcs: ResultPromise[] = [];
const servers: Server[] = [];

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-cond-');
});
test.after.each(async () => {
  await closeAllGuests();
  for (const p of hostProcs.splice(0)) if (p.pid !== undefined && p.exitCode === null) p.kill('SIGKILL');
  for (const s of servers.splice(0)) s.close();
  await net?.close();
  net = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** What a test needs of a NIC's conditioning. */
type Conditioning = Pick<Nic, 'condition' | 'conditionStats'>;

/** A network with one QEMU-stream guest at `ip`, its ARP entries warm, and the guest's NIC. */
async function oneGuest(ip: string): Promise<{ g: Guest; nic: Conditioning }> {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const sock = join(dir, `q-${ip}.sock`);
  (await net.listenQemu(sock))._unsafeUnwrap();
  const g = await createGuest({ socketPath: sock, framing: 'qemu' });
  await g.setAddress(`${ip}/24`);
  await waitUntil('the NIC to attach', () => net!.allNics().length === 1, { timeoutMs: 10_000 });
  const r = await g.exec(['busybox', 'ping', '-c', '2', '-i', '0.1', '-w', '10', GATEWAY], { timeoutMs: 15_000 });
  assert.match(r.stdout, /2 packets received/);
  return { g, nic: net.allNics()[0]! };
}

/** Round-trip times (ms) of `count` pings to `to`, and how many came back. */
async function pings(g: Guest, to: string, count: number, intervalS: number): Promise<{ rtts: number[]; received: number; sent: number }> {
  const deadline = Math.ceil(count * intervalS + 10);
  const r = await g.exec(['busybox', 'ping', '-c', String(count), '-i', String(intervalS), '-W', '3', '-w', String(deadline), to], {
    timeoutMs: (deadline + 10) * 1000,
    reject: false,
  });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sum = /(\d+) packets transmitted, (\d+) packets received/.exec(r.stdout);
  assert.ok(sum !== null, `ping summary in: ${r.stdout.slice(-300)} ${r.stderr}`);
  return { rtts, sent: Number(sum[1]), received: Number(sum[2]) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

it('latency: 50 ms each way adds 100 ms to the ping RTT; 100 ms on the uplink alone adds 100 ms (±20 %)', async () => {
  const { g, nic } = await oneGuest('192.168.65.20');
  const base = median((await pings(g, GATEWAY, 10, 0.05)).rtts);
  for (const spec of [{ latencyMs: 50 }, { fromNic: { latencyMs: 100 } }] as ConditionSpec[]) {
    nic.condition(spec)._unsafeUnwrap();
    const p = await pings(g, GATEWAY, 20, 0.05);
    assert.is(p.received, 20, JSON.stringify(spec));
    const added = p.rtts.map((t) => t - base);
    console.log(`  ${JSON.stringify(spec)}: base ${base} ms, added RTT median ${median(added).toFixed(2)} ms, range ${Math.min(...added).toFixed(2)}..${Math.max(...added).toFixed(2)}`);
    for (const a of added) assert.ok(a >= 80 && a <= 120, `added ${a} ms outside 100 ± 20 % (${JSON.stringify(spec)})`);
  }
  nic.condition(null)._unsafeUnwrap();
  const after = median((await pings(g, GATEWAY, 10, 0.05)).rtts);
  assert.ok(after < base + 5, `removal restores the RTT: ${after} ms vs ${base} ms`);
});

it('loss: 10 % each way over 1,000 pings loses 1 − 0.9² = 19 % within 4σ, exactly what the counters dropped', async () => {
  const { g, nic } = await oneGuest('192.168.65.21');
  nic.condition({ lossPct: 10, seed: 2024 })._unsafeUnwrap();
  const p = await pings(g, GATEWAY, 1000, 0.01);
  const s = nic.conditionStats();
  nic.condition(null)._unsafeUnwrap();
  const lost = p.sent - p.received;
  console.log(`  ${p.sent} sent, ${p.received} received (${lost} lost); dropped: from NIC ${s.fromNic.droppedLoss}/${s.fromNic.frames}, to NIC ${s.toNic.droppedLoss}/${s.toNic.frames}`);
  assert.is(p.sent, 1000);
  // Round trip: Binomial(1000, 0.19), σ = √(1000·0.19·0.81) ≈ 12.4 → 190 ± 50 (4σ, a false alarm
  // about once in 16,000 runs). Each direction: Binomial(n, 0.1), σ ≈ 9.5 at n = 1000 → ± 4σ.
  assert.ok(lost >= 140 && lost <= 240, `${lost} of 1000 lost`);
  for (const d of [s.fromNic, s.toNic]) {
    const sigma = Math.sqrt(d.frames * 0.1 * 0.9);
    assert.ok(Math.abs(d.droppedLoss - d.frames * 0.1) <= 4 * sigma, `${d.droppedLoss} of ${d.frames} dropped`);
  }
  // Every lost ping is a request dropped on the way in or a reply dropped on the way out
  // (an ARP refresh may add a frame or two to either count).
  assert.ok(Math.abs(lost - (s.fromNic.droppedLoss + s.toNic.droppedLoss)) <= 3, 'the counters account for every lost ping');
});

/** Starts `iperf3 -s` on 127.0.0.1 (host side) and returns its port. */
async function iperfServer(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const p = execa('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)], { reject: false });
  hostProcs.push(p);
  await waitUntil('iperf3 -s to listen', async () => (await execa('ss', ['-ltnH', `sport = :${port}`], { reject: false })).stdout.includes('127.0.0.1'), {
    timeoutMs: 10_000,
  });
  return port;
}

/** Runs iperf3 from the guest to the host server; returns the receiver's goodput in Mbit/s. */
async function iperf(g: Guest, port: number, seconds: number, reverse: boolean): Promise<number> {
  const args = ['iperf3', '-c', HOST_ALIAS, '-p', String(port), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])];
  const r = await g.exec(args, { timeoutMs: (seconds + 30) * 1000, reject: false });
  const j = JSON.parse(r.stdout) as { error?: string; end?: { sum_received?: { bits_per_second: number } } };
  const bps = j.end?.sum_received?.bits_per_second;
  assert.ok(bps !== undefined, `iperf3 ${args.join(' ')}: ${j.error ?? r.stdout.slice(0, 500)}`);
  return bps / 1e6;
}

it('rate: a 50 Mbit/s cap holds iperf3 at the cap ±15 %, uplink and downlink', async () => {
  const { g, nic } = await oneGuest('192.168.65.22');
  const port = await iperfServer();
  const free = await iperf(g, port, 2, false);
  // The cap counts Ethernet frame bytes; iperf3 counts TCP payload: 1448 of every 1514 bytes.
  const expected = (50 * 1448) / 1514;
  assert.ok(free > 1.5 * 50, `uncapped the path must be well above the cap to show it (${free.toFixed(1)} Mbit/s)`);
  nic.condition({ rateMbit: 50 })._unsafeUnwrap();
  // The pacing runs on this process's timers: a starved event loop shows up here first.
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const up = await iperf(g, port, 5, false);
  const down = await iperf(g, port, 5, true);
  lag.disable();
  const s = nic.conditionStats();
  console.log(
    `  uncapped ${free.toFixed(1)} Mbit/s; capped uplink ${up.toFixed(2)}, downlink ${down.toFixed(2)} Mbit/s (payload at the cap: ${expected.toFixed(2)}); ` +
      `uplink queue drops ${s.fromNic.droppedQueue}, downlink ${s.toNic.droppedQueue}; event-loop lag p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
  );
  for (const [what, v] of [['uplink', up], ['downlink', down]] as const)
    assert.ok(Math.abs(v - expected) <= 0.15 * expected, `${what} ${v.toFixed(2)} Mbit/s, expected ${expected.toFixed(2)} ± 15 %`);
});

it('partition: traffic stops while down; lifting it resumes the same TCP connection, every byte arrives', async () => {
  const { g, nic } = await oneGuest('192.168.65.23');
  const chunk = 16 * 1024;
  const chunks = 80;
  const blob = randomBytes(chunk * chunks);
  const file = join(dir, 'stream.bin');
  writeFileSync(file, blob);
  let connections = 0;
  let received = 0;
  const hash = createHash('sha256');
  let ended: () => void = () => {};
  const done = new Promise<void>((r) => (ended = r));
  const server = createServer((s) => {
    connections++;
    s.on('data', (d: Buffer) => {
      received += d.length;
      hash.update(d);
    });
    s.on('end', () => ended());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  // 16 KiB every 50 ms for 4 s over one connection, by a sender that does not know about the cut.
  const sender = g.spawn([
    'sh',
    '-c',
    `i=0; while [ $i -lt ${chunks} ]; do dd if=${file} bs=${chunk} skip=$i count=1 2>/dev/null; sleep 0.05; i=$((i+1)); done | nc -N ${HOST_ALIAS} ${port}`,
  ]);
  await waitUntil('the stream to start', () => received > 4 * chunk, { timeoutMs: 10_000 });
  nic.condition({ down: true })._unsafeUnwrap();
  const cutAt = performance.now();
  await new Promise((r) => setTimeout(r, 300)); // what was in flight before the cut lands
  const atCut = received;
  const during = await pings(g, GATEWAY, 3, 0.2);
  await new Promise((r) => setTimeout(r, 2000));
  assert.is(during.received, 0, 'no ping crosses a partition');
  assert.is(received, atCut, 'no byte crosses a partition');
  nic.condition(null)._unsafeUnwrap();
  const liftedAt = performance.now();
  await withTimeout('the stream to finish after the partition', done, 40_000);
  const finishedAt = performance.now();
  const r = await withTimeout('the sender to exit', sender, 10_000);
  const s = nic.conditionStats();
  console.log(
    `  ${received} bytes over ${connections} connection(s); ${atCut} before a ${((liftedAt - cutAt) / 1000).toFixed(1)} s cut, ` +
      `the rest in ${((finishedAt - liftedAt) / 1000).toFixed(1)} s after it; dropped by the partition: from NIC ${s.fromNic.droppedPartition}, to NIC ${s.toNic.droppedPartition}`,
  );
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(connections, 1, 'the same connection');
  assert.is(received, blob.length);
  assert.is(hash.digest('hex'), createHash('sha256').update(blob).digest('hex'));
  assert.ok(s.fromNic.droppedPartition > 0, 'the sender kept trying during the cut');
});

test.run();
