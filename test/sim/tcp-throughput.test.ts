/**
 * Two of our endpoints back to back through a simulated lossy, delayed link (ManualScheduler,
 * seeded RNG): every byte must arrive exactly, in both directions, at 0 %, 1 % and 5 % loss.
 * Throughput in bytes per simulated second is printed, not asserted (a regression table to eyeball).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import type { Connection } from '../../src/stack/tcp/connection.js';
import { TcpEndpoint } from '../../src/stack/tcp/endpoint.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { deferOn, SimDirection, type LinkProps } from '../harness/tcp/sim-link.js';

const A_IP = parseIpv4('10.0.0.1')!;
const B_IP = parseIpv4('10.0.0.2')!;

interface RunResult {
  simMs: number;
  upOk: boolean;
  downOk: boolean;
  retransmits: number;
  timeouts: number;
  queueDrops: number;
  lost: number;
}

function pattern(n: number, seed: number): Buffer {
  const r = new SeededRng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(r.u32(), i);
  return b;
}

/** A sender that keeps `conn` fed from `data` and shuts down at the end. */
function pump(conn: Connection, data: Buffer): void {
  let off = 0;
  const fill = (): void => {
    while (off < data.length) {
      const n = conn.send(data, off, Math.min(256 * 1024, data.length - off));
      if (n === 0) return;
      off += n;
    }
    conn.shutdown();
  };
  conn.onWritable = fill;
  fill();
}

function run(loss: number, mtu: number, bytes: number, seed: number): RunResult {
  const sched = new ManualScheduler();
  const props: LinkProps = { bytesPerMs: 125_000, delayMs: 0.5, loss, queueBytes: 16 << 20 };
  const linkRng = new SeededRng(seed);
  const aDefer = deferOn(sched);
  const bDefer = deferOn(sched);
  let a: TcpEndpoint | undefined;
  let b: TcpEndpoint | undefined;
  const aOut = new SimDirection(sched, linkRng, props, mtu, () => b!.flush());
  const bOut = new SimDirection(sched, linkRng, props, mtu, () => a!.flush());
  const config = {}; // defaults: 100 ms RTO floor
  a = new TcpEndpoint({ output: aOut, runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(seed + 1) }, config, defer: aDefer.defer });
  b = new TcpEndpoint({ output: bOut, runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(seed + 2) }, config, defer: bDefer.defer });
  aOut.peer = b;
  bOut.peer = a;

  const up = pattern(bytes, seed + 3);
  const down = pattern(bytes, seed + 4);
  const gotUp: Buffer[] = [];
  const gotDown: Buffer[] = [];
  let upEnded = false;
  let downEnded = false;
  let aClosed = '';
  let bClosed = '';
  a.listen(A_IP, 80, (c) => {
    c.setHandlers({
      onData: (buf, off, len) => void gotUp.push(Buffer.from(buf.subarray(off, off + len))),
      onEnd: () => (upEnded = true),
      onClose: (r) => (aClosed = r),
    });
    pump(c, down);
  });
  const conn = b.connect({ localIp: B_IP, remoteIp: A_IP, remotePort: 80 })._unsafeUnwrap();
  conn.setHandlers({
    onEstablished: () => pump(conn, up),
    onData: (buf, off, len) => void gotDown.push(Buffer.from(buf.subarray(off, off + len))),
    onEnd: () => (downEnded = true),
    onClose: (r) => (bClosed = r),
  });
  b.flush();
  for (let t = 0; t < 600_000 && !(upEnded && downEnded && aClosed !== '' && bClosed !== ''); t += 1) sched.advance(1);
  const simMs = sched.clock.now();
  const sha = (x: Buffer | Buffer[]): string => createHash('sha256').update(Array.isArray(x) ? Buffer.concat(x) : x).digest('hex');
  assert.ok(upEnded && downEnded, `both FINs arrived (loss ${loss})`);
  assert.is(aClosed, 'closed');
  assert.is(bClosed, 'closed');
  return {
    simMs,
    upOk: sha(gotUp) === sha(up),
    downOk: sha(gotDown) === sha(down),
    retransmits: a.stats().retransmits + b.stats().retransmits,
    timeouts: a.stats().timeouts + b.stats().timeouts,
    queueDrops: aOut.counters.queueDrops + bOut.counters.queueDrops,
    lost: aOut.counters.lost + bOut.counters.lost,
  };
}

const rows: string[] = [];
for (const [loss, mtu, bytes] of [
  [0, 1500, 4 << 20],
  [0.01, 1500, 2 << 20],
  [0.05, 1500, 1 << 20],
  [0, 65520, 16 << 20],
  [0.01, 65520, 32 << 20],
] as const) {
  test(`byte-exact both ways at ${loss * 100} % loss, MTU ${mtu}`, () => {
    const r = run(loss, mtu, bytes, 1000 + Math.round(loss * 100) + mtu);
    assert.ok(r.upOk, 'upload intact');
    assert.ok(r.downOk, 'download intact');
    if (loss > 0) assert.ok(r.retransmits > 0 && r.lost > 0, 'loss actually happened and was repaired');
    const rate = (2 * bytes) / (r.simMs / 1000);
    rows.push(
      `loss ${(loss * 100).toFixed(0).padStart(2)} %  MTU ${String(mtu).padStart(5)}  ${(bytes / 1048576).toFixed(0).padStart(2)} MiB each way  ` +
        `${r.simMs.toFixed(1).padStart(8)} sim-ms  ${(rate / 1e6).toFixed(1).padStart(7)} MB/sim-s (both directions)  lost ${r.lost}  queue drops ${r.queueDrops}  retransmits ${r.retransmits}  RTOs ${r.timeouts}`,
    );
  });
}

test.after(() => {
  console.log('\n  simulated link: 1 Gbit/s each way, 0.5 ms one-way delay');
  for (const r of rows) console.log(`  ${r}`);
});

test.run();
