import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../src/runtime/clock.js';
import { Switch } from '../../src/switch/switch.js';
import { Drop } from '../../src/wire/drop.js';
import { CapturePort, ethFrame } from '../harness/capture-port.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';
const BCAST = 'ff:ff:ff:ff:ff:ff';

function setup(n = 3) {
  const clock = new ManualClock();
  const sw = new Switch({ clock, macAgeingMs: 1000 });
  const ports = Array.from({ length: n }, (_, i) => new CapturePort(`p${i}`));
  for (const p of ports) sw.attach(p);
  const send = (from: CapturePort, f: Buffer) => sw.input(from, f, 0, f.length);
  return { clock, sw, ports, send };
}

test('unknown unicast is flooded to every other port, not back to the sender', () => {
  const { ports, send } = setup();
  send(ports[0]!, ethFrame(B, A, 0x0800));
  assert.is(ports[0]!.frames.length, 0);
  assert.is(ports[1]!.frames.length, 1);
  assert.is(ports[2]!.frames.length, 1);
});

test('a learnt destination gets the frame alone', () => {
  const { ports, send } = setup();
  send(ports[1]!, ethFrame(BCAST, B, 0x0806));
  ports.forEach((p) => p.take());
  send(ports[0]!, ethFrame(B, A, 0x0800));
  assert.is(ports[1]!.frames.length, 1);
  assert.is(ports[2]!.frames.length, 0);
});

test('broadcast and multicast are flooded even when the sender is known', () => {
  const { ports, send } = setup();
  send(ports[0]!, ethFrame(BCAST, A, 0x0806));
  send(ports[0]!, ethFrame('33:33:00:00:00:01', A, 0x86dd));
  assert.is(ports[1]!.frames.length, 2);
  assert.is(ports[2]!.frames.length, 2);
});

test('entries age out and the destination is flooded again', () => {
  const { clock, ports, send } = setup();
  send(ports[1]!, ethFrame(BCAST, B, 0x0806));
  ports.forEach((p) => p.take());
  clock.set(1500);
  send(ports[0]!, ethFrame(B, A, 0x0800));
  assert.is(ports[2]!.frames.length, 1, 'flooded after ageing');
});

test('a station that moves is relearnt on its new port', () => {
  const { ports, send } = setup();
  send(ports[1]!, ethFrame(BCAST, B, 0x0806));
  send(ports[2]!, ethFrame(BCAST, B, 0x0806));
  ports.forEach((p) => p.take());
  send(ports[0]!, ethFrame(B, A, 0x0800));
  assert.is(ports[1]!.frames.length, 0);
  assert.is(ports[2]!.frames.length, 1);
});

test('detaching a port forgets its MACs', () => {
  const { sw, ports, send } = setup();
  send(ports[1]!, ethFrame(BCAST, B, 0x0806));
  assert.is(sw.macs.size, 1);
  sw.detach(ports[1]!);
  assert.is(sw.macs.size, 0);
  send(ports[0]!, ethFrame(B, A, 0x0800));
  assert.is(ports[2]!.frames.length, 2, 'flooded (bcast earlier + unknown now)');
});

test('frames with a group source MAC are dropped and never learnt', () => {
  const { sw, ports, send } = setup();
  send(ports[0]!, ethFrame(B, '03:00:00:00:00:01', 0x0800));
  assert.is(sw.macs.size, 0);
  assert.is(ports[0]!.counters.drops[Drop.BadSource], 1);
  assert.is(ports[1]!.frames.length, 0);
});

test('runt and oversize frames are dropped and counted on the ingress port', () => {
  const { ports, send } = setup();
  send(ports[0]!, Buffer.alloc(10));
  send(ports[0]!, ethFrame(B, A, 0x0800, 2000));
  assert.is(ports[0]!.counters.drops[Drop.Truncated], 1);
  assert.is(ports[0]!.counters.drops[Drop.TooBig], 1);
  assert.is(ports[1]!.frames.length, 0);
});

test('a slow port drops its own frames without affecting the others', () => {
  const { ports, send } = setup();
  ports[1]!.writable = false;
  send(ports[0]!, ethFrame(BCAST, A, 0x0806));
  assert.is(ports[1]!.frames.length, 0);
  assert.is(ports[1]!.counters.drops[Drop.TxFull], 1);
  assert.is(ports[2]!.frames.length, 1);
});

test('a port flooding random source MACs hits its cap without evicting other ports', () => {
  const clock = new ManualClock();
  const sw = new Switch({ clock });
  const p0 = new CapturePort('p0');
  const p1 = new CapturePort('p1');
  sw.attach(p0);
  sw.attach(p1);
  sw.input(p1, ethFrame(BCAST, B, 0x0806), 0, 60);
  for (let i = 0; i < 2000; i++) {
    const mac = `02:11:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    const f = ethFrame(C, mac, 0x0800);
    sw.input(p0, f, 0, f.length);
  }
  assert.ok(sw.macs.macsOf(p0.id).length <= 1024);
  assert.ok(p0.counters.drops[Drop.Limit]! > 0);
  assert.is(sw.macs.lookup(Number.parseInt('02000000000b', 16)), p1.id, 'other port keeps its entry');
});

test('counters count frames and bytes in and out', () => {
  const { ports, send } = setup(2);
  const f = ethFrame(BCAST, A, 0x0806, 46);
  send(ports[0]!, f);
  assert.is(ports[0]!.counters.framesIn, 1);
  assert.is(ports[0]!.counters.bytesIn, 60);
  assert.is(ports[1]!.counters.framesOut, 1);
  assert.is(ports[1]!.counters.bytesOut, 60);
});

test('begin/commit to a known MAC writes in place in the destination port buffer', () => {
  const { sw, ports, send } = setup();
  send(ports[1]!, ethFrame(BCAST, B, 0x0806));
  ports.forEach((p) => p.take());
  const b = sw.begin(Number.parseInt('02000000000b', 16), 60, 999);
  assert.ok(b !== undefined);
  assert.is(b, ports[1]!.txBuf, 'the destination port owns the buffer');
  ethFrame(B, A, 0x0800).copy(b!, sw.txOff);
  sw.commit(60);
  assert.is(ports[1]!.frames.length, 1);
  assert.is(ports[2]!.frames.length, 0);
});

test('begin/commit to broadcast floods to every port except the producer', () => {
  const { sw, ports } = setup();
  const b = sw.begin(0xffffffffffff, 60, ports[0]!.id)!;
  ethFrame(BCAST, A, 0x0806).copy(b, sw.txOff);
  sw.commit(60);
  assert.is(ports[0]!.frames.length, 0);
  assert.is(ports[1]!.frames.length, 1);
  assert.is(ports[2]!.frames.length, 1);
});

test.run();
