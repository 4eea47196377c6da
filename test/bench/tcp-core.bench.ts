/**
 * Wall-clock throughput of the TCP core alone: two endpoints back to back in memory (no loss, no
 * delay), a bulk transfer one way, at MTU 1500 and 65520. Every segment is really built (headers,
 * options, checksum), parsed and delivered. Printed, never asserted.
 * Run: npx tsx test/bench/tcp-core.bench.ts
 */
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { TcpEndpoint } from '../../src/stack/tcp/endpoint.js';
import type { TcpPacketOutput } from '../../src/stack/tcp/output.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { Drop } from '../../src/wire/drop.js';
import { FrameInfo } from '../../src/wire/frame-info.js';
import { tcpDstPort, tcpHeaderLength, tcpSrcPort } from '../../src/wire/tcp.js';

/** Packets go into a ring of preallocated slots and are delivered by the driver loop. */
class Pipe implements TcpPacketOutput {
  readonly l4 = 0;
  lastDrop = Drop.None as typeof Drop.None;
  private readonly slots: Buffer[];
  private readonly lens: Int32Array;
  private readonly srcs: Float64Array;
  private readonly dsts: Float64Array;
  private head = 0;
  count = 0;
  peer: TcpEndpoint | undefined;
  private readonly info = new FrameInfo();
  constructor(readonly mtu: number, n = 4096) {
    this.slots = Array.from({ length: n }, () => Buffer.allocUnsafeSlow(mtu));
    this.lens = new Int32Array(n);
    this.srcs = new Float64Array(n);
    this.dsts = new Float64Array(n);
  }
  begin(src: number, dst: number, _p: number, len: number): Uint8Array | undefined {
    if (this.count === this.slots.length) {
      this.lastDrop = Drop.TxFull as never;
      return undefined;
    }
    const i = (this.head + this.count) % this.slots.length;
    this.lens[i] = len;
    this.srcs[i] = src;
    this.dsts[i] = dst;
    this.lastDrop = Drop.None;
    return this.slots[i];
  }
  commit(): void {
    this.count++;
  }
  portIdOf(): number {
    return 1;
  }
  /** Delivers everything queued; returns how many. */
  drain(): number {
    const n = this.count;
    const info = this.info;
    for (let k = 0; k < n; k++) {
      const i = this.head;
      const b = this.slots[i]!;
      info.buf = b;
      info.l4 = 0;
      info.l4Len = this.lens[i]!;
      info.srcIp = this.srcs[i]!;
      info.dstIp = this.dsts[i]!;
      info.srcPort = tcpSrcPort(b, 0);
      info.dstPort = tcpDstPort(b, 0);
      info.payload = tcpHeaderLength(b, 0);
      info.payloadLen = info.l4Len - info.payload;
      this.head = (this.head + 1) % this.slots.length;
      this.count--;
      this.peer!.input(info);
    }
    if (n > 0) this.peer!.flush();
    return n;
  }
}

function bench(mtu: number, total: number): void {
  const sched = new ManualScheduler();
  const aOut = new Pipe(mtu);
  const bOut = new Pipe(mtu);
  const noDefer = (): void => {};
  const a = new TcpEndpoint({ output: aOut, runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) }, defer: noDefer });
  const b = new TcpEndpoint({ output: bOut, runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(2) }, defer: noDefer });
  aOut.peer = b;
  bOut.peer = a;
  const A = parseIpv4('10.0.0.1')!;
  let received = 0;
  a.listen(A, 80, (c) => c.setHandlers({ onData: (_b, _o, len) => void (received += len) }));
  const c = b.connect({ localIp: parseIpv4('10.0.0.2')!, remoteIp: A, remotePort: 80 })._unsafeUnwrap();
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  let sent = 0;
  const fill = (): void => {
    while (sent < total) {
      const n = c.send(chunk, 0, Math.min(chunk.length, total - sent));
      if (n === 0) return;
      sent += n;
    }
  };
  b.flush();
  const t0 = performance.now();
  let segs = 0;
  for (let guard = 0; received < total && guard < 10_000_000; guard++) {
    fill();
    b.flush();
    segs += bOut.drain();
    aOut.drain();
    if (bOut.count === 0 && aOut.count === 0 && c.sendBuf.length === 0 && sent >= total) break;
  }
  const ms = performance.now() - t0;
  console.log(
    `MTU ${String(mtu).padStart(5)}: ${(total / 1048576).toFixed(0)} MiB in ${ms.toFixed(0)} ms = ` +
      `${((total * 8) / (ms / 1000) / 1e9).toFixed(2)} Gbit/s, ${((segs / ms) * 1000 / 1e3).toFixed(0)} k data segments/s ` +
      `(${received === total ? 'complete' : `INCOMPLETE ${received}`})`,
  );
}

bench(1500, 512 << 20);
bench(65520, 4 * 1024 ** 3);
