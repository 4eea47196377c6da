/**
 * Conditioning installed on a NIC of a real Switch, on a ManualScheduler: the wrapper takes the
 * port's place (same id), both directions are conditioned, in-place emission keeps its
 * zero-copy path when nothing delays it and its backpressure when something does, counters stay
 * exact, and removal puts everything back (handing on what was held).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../src/runtime/rng.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { ConditionedPort, ConditionSlot, type ConditionHost, type FrameSink } from '../../src/switch/conditioner.js';
import { Switch } from '../../src/switch/switch.js';
import { Drop } from '../../src/wire/drop.js';
import { CapturePort, ethFrame } from '../harness/capture-port.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const macNum = (m: string): number => parseInt(m.replace(/:/g, ''), 16);

function setup(seed = 1) {
  const sched = new ManualScheduler();
  const runtime: Runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(seed) };
  const sw = new Switch({ clock: sched.clock });
  const nic = new CapturePort('nic');
  const other = new CapturePort('other');
  sw.attach(nic);
  sw.attach(other);
  const drained: number[] = [];
  sw.onPortDrain = (id) => drained.push(id);
  const direct: FrameSink = (b, off, len) => sw.input(nic, b, off, len);
  // What the NIC's transport calls with each frame it reads (StreamPort.onFrame in the facade).
  let route: FrameSink = direct;
  const host: ConditionHost = {
    port: nic,
    runtime,
    swapPort: (c, n) => sw.replace(c, n),
    routeInput: (sink) => {
      route = sink ?? direct;
    },
    switchInput: direct,
  };
  const slot = new ConditionSlot(host);
  const fromNic = (f: Buffer): void => route(f, 0, f.length);
  const fromOther = (f: Buffer): void => sw.input(other, f, 0, f.length);
  // Both stations are known, so unicast is not flooded.
  fromNic(ethFrame(BCAST, A, 0x0806));
  fromOther(ethFrame(BCAST, B, 0x0806));
  nic.take();
  other.take();
  for (const p of [nic, other]) {
    const c = p.counters;
    c.framesIn = c.framesOut = c.bytesIn = c.bytesOut = 0;
    c.drops.fill(0);
  }
  /** Emits a frame toward A the way the gateway does (begin/write/commit); false when refused. */
  const emitToNic = (payload = 100, tag = 0x11): { ok: boolean; inPlace: boolean } => {
    const f = ethFrame(A, B, 0x0800, Buffer.alloc(payload, tag));
    const b = sw.begin(macNum(A), f.length, other.id);
    if (b === undefined) return { ok: false, inPlace: false };
    b.set(f, sw.txOff);
    sw.commit(f.length);
    return { ok: true, inPlace: b === nic.txBuf };
  };
  return { sched, sw, nic, other, slot, fromNic, fromOther, emitToNic, drained };
}

test('absent, the switch holds the NIC port itself; installed, a wrapper with the same id', () => {
  const { sw, nic, slot } = setup();
  const id = nic.id;
  assert.is(sw.port(id), nic);
  slot.condition({ latencyMs: 10 })._unsafeUnwrap();
  const w = sw.port(id);
  assert.instance(w, ConditionedPort);
  assert.is(w!.id, id);
  assert.is(w!.counters, nic.counters, 'the NIC keeps one set of counters');
  assert.ok(slot.active);
  slot.condition(null)._unsafeUnwrap();
  assert.is(sw.port(id), nic);
  assert.not.ok(slot.active);
});

test('latency both ways: forwarded frames to the NIC and the NIC\'s frames into the switch', () => {
  const { sched, nic, other, slot, fromNic, fromOther } = setup();
  slot.condition({ latencyMs: 40 })._unsafeUnwrap();
  fromOther(ethFrame(A, B, 0x0800));
  fromNic(ethFrame(B, A, 0x0800));
  assert.is(nic.frames.length + other.frames.length, 0);
  sched.advance(39.9);
  assert.is(nic.frames.length + other.frames.length, 0);
  sched.advance(0.1);
  assert.is(nic.frames.length, 1);
  assert.is(other.frames.length, 1);
  assert.is(nic.counters.framesOut, 1);
  assert.is(nic.counters.framesIn, 1, 'counted when it reached the switch');
  const s = slot.stats();
  assert.is(s.toNic.delayed, 1);
  assert.is(s.fromNic.delayed, 1);
  assert.equal(s.spec, { latencyMs: 40 });
});

test('in-place emission with nothing to wait for writes straight into the NIC buffer; loss is drawn at commit', () => {
  const { nic, slot, emitToNic } = setup();
  slot.condition({ lossPct: 0 })._unsafeUnwrap();
  assert.equal(emitToNic(), { ok: true, inPlace: true });
  assert.is(nic.frames.length, 1);
  slot.condition({ lossPct: 100 })._unsafeUnwrap();
  assert.equal(emitToNic(), { ok: true, inPlace: true });
  assert.is(nic.frames.length, 1, 'lost');
  assert.is(nic.counters.framesOut, 1, 'the lost frame is not counted as sent');
  assert.is(nic.counters.drops[Drop.Conditioned], 1);
  assert.is(slot.stats().toNic.droppedLoss, 1);
});

test('in-place emission with latency goes through a scratch frame and arrives on time', () => {
  const { sched, nic, slot, emitToNic } = setup();
  slot.condition({ latencyMs: 25 })._unsafeUnwrap();
  assert.equal(emitToNic(200, 0x77), { ok: true, inPlace: false });
  assert.is(nic.frames.length, 0);
  sched.advance(25);
  assert.is(nic.frames.length, 1);
  assert.is(nic.frames[0]![20], 0x77, 'the bytes written in the scratch frame');
  assert.is(nic.counters.framesOut, 1);
});

test('a rate cap pushes back on in-place emission and wakes the sender when the link drains', () => {
  const { sched, nic, slot, emitToNic, drained } = setup();
  // 8 Mbit/s = 1000 B/ms; the queue holds two 1514-byte frames.
  slot.condition({ rateMbit: 8, queueBytes: 3028, burstBytes: 0 })._unsafeUnwrap();
  assert.ok(emitToNic(1500).ok);
  assert.ok(emitToNic(1500).ok);
  assert.not.ok(emitToNic(1500).ok, 'refused, not dropped: the gateway TCP waits for the drain');
  assert.is(nic.counters.drops[Drop.TxFull], 1);
  assert.is(slot.stats().toNic.droppedQueue, 0);
  sched.advance(1.5);
  assert.equal(drained, [], 'the first frame needs 1.514 ms on the link');
  sched.advance(0.1);
  assert.equal(drained, [nic.id], 'onPortDrain with the NIC id once the first frame is through');
  assert.ok(emitToNic(1500).ok);
  sched.advance(10);
  assert.is(nic.frames.length, 3);
});

test('forwarded frames past the queue bound are dropped like a router does, and counted', () => {
  const { sched, nic, slot, fromOther } = setup();
  slot.condition({ rateMbit: 8, queueBytes: 3028, burstBytes: 0 })._unsafeUnwrap();
  for (let i = 0; i < 5; i++) fromOther(ethFrame(A, B, 0x0800, 1500));
  sched.advance(100);
  assert.is(nic.frames.length, 2);
  assert.is(slot.stats().toNic.droppedQueue, 3);
  assert.is(nic.counters.drops[Drop.Conditioned], 3);
  assert.is(nic.counters.framesOut, 2);
});

test('a NIC over its own high-water mark refuses in-place frames even when they would be delayed', () => {
  const { nic, slot, emitToNic } = setup();
  slot.condition({ latencyMs: 10 })._unsafeUnwrap();
  nic.writable = false;
  assert.not.ok(emitToNic().ok);
});

test('a held frame the NIC refuses on release is a drop, not a send', () => {
  const { sched, nic, slot, fromOther } = setup();
  slot.condition({ latencyMs: 10 })._unsafeUnwrap();
  fromOther(ethFrame(A, B, 0x0800));
  assert.is(nic.counters.framesOut, 1, 'counted by the switch when the wrapper took it');
  nic.writable = false;
  sched.advance(10);
  assert.is(nic.counters.framesOut, 0);
  assert.is(nic.counters.drops[Drop.TxFull], 1);
  assert.is(slot.stats().toNic.refused, 1);
});

test('partition: nothing crosses either way, held frames are lost; lifting it resumes traffic', () => {
  const { sched, nic, other, slot, fromNic, fromOther, emitToNic } = setup();
  slot.condition({ latencyMs: 20 })._unsafeUnwrap();
  fromOther(ethFrame(A, B, 0x0800));
  fromNic(ethFrame(B, A, 0x0800));
  sched.advance(5);
  slot.condition({ latencyMs: 20, down: true })._unsafeUnwrap();
  fromOther(ethFrame(A, B, 0x0800));
  fromNic(ethFrame(B, A, 0x0800));
  assert.ok(emitToNic().ok, 'accepted and dropped: the sender sees loss, not a stall');
  sched.advance(100);
  assert.is(nic.frames.length + other.frames.length, 0);
  const s = slot.stats();
  assert.is(s.toNic.droppedPartition, 3);
  assert.is(s.fromNic.droppedPartition, 2);
  assert.is(nic.counters.framesOut, 0, 'nothing reached the NIC');
  assert.is(nic.counters.drops[Drop.Conditioned], 5, 'three toward it, two from it');
  assert.is(nic.counters.framesIn, 2, 'the NIC did send its two frames');
  slot.condition({ latencyMs: 20 })._unsafeUnwrap();
  fromOther(ethFrame(A, B, 0x0800));
  fromNic(ethFrame(B, A, 0x0800));
  sched.advance(20);
  assert.is(nic.frames.length, 1);
  assert.is(other.frames.length, 1);
});

test('removal hands on what was held at once, in order, and frames flow directly again', () => {
  const { sched, nic, other, slot, fromNic, fromOther } = setup();
  slot.condition({ latencyMs: 1000 })._unsafeUnwrap();
  for (let i = 0; i < 3; i++) fromOther(ethFrame(A, B, 0x0800, Buffer.alloc(50, i)));
  fromNic(ethFrame(B, A, 0x0800));
  slot.condition(null)._unsafeUnwrap();
  assert.equal(nic.frames.map((f) => f[14]), [0, 1, 2]);
  assert.is(other.frames.length, 1);
  assert.is(sched.size, 0, 'no timer left');
  fromOther(ethFrame(A, B, 0x0800));
  fromNic(ethFrame(B, A, 0x0800));
  assert.is(nic.frames.length, 4, 'synchronous again');
  assert.is(other.frames.length, 2);
  const s = slot.stats();
  assert.not.ok(s.active);
  assert.is(s.spec, null);
  assert.is(s.toNic.delayed, 3, 'counters survive removal');
});

test('an invalid spec changes nothing', () => {
  const { sw, nic, slot } = setup();
  const r = slot.condition({ lossPct: 120 });
  assert.is(r._unsafeUnwrapErr().kind, 'invalid-condition');
  assert.is(sw.port(nic.id), nic);
  slot.condition({ latencyMs: 5 })._unsafeUnwrap();
  assert.ok(slot.condition({ latencyMs: -5 }).isErr());
  assert.equal(slot.stats().spec, { latencyMs: 5 }, 'the previous spec stays');
});

test('a detached NIC cannot be conditioned', () => {
  const { sw, nic, slot } = setup();
  sw.detach(nic);
  assert.is(slot.condition({ latencyMs: 5 })._unsafeUnwrapErr().kind, 'nic-detached');
});

test('close() drops what is held and puts the port back', () => {
  const { sched, sw, nic, slot, fromOther } = setup();
  slot.condition({ latencyMs: 50 })._unsafeUnwrap();
  fromOther(ethFrame(A, B, 0x0800));
  slot.close();
  assert.is(sw.port(nic.id), nic);
  sched.advance(100);
  assert.is(nic.frames.length, 0);
  assert.is(sched.size, 0);
});

test('stats before any conditioning are zeros', () => {
  const { slot } = setup();
  const s = slot.stats();
  assert.not.ok(s.active);
  assert.is(s.toNic.frames + s.fromNic.frames, 0);
});

test('a seed replays the same run exactly, whatever the runtime\'s own randomness', () => {
  const run = (runtimeSeed: number): string => {
    const { sched, nic, other, slot, fromNic, fromOther } = setup(runtimeSeed);
    slot.condition({ latencyMs: 10, jitterMs: 8, lossPct: 30, seed: 5 })._unsafeUnwrap();
    for (let i = 0; i < 500; i++) {
      fromOther(ethFrame(A, B, 0x0800, Buffer.alloc(60, i & 0xff)));
      fromNic(ethFrame(B, A, 0x0800, Buffer.alloc(60, i & 0xff)));
      sched.advance(0.5);
    }
    sched.advance(100);
    return `${nic.frames.map((f) => f[14]).join()}|${other.frames.map((f) => f[14]).join()}`;
  };
  const a = run(1);
  assert.is(run(2), a);
  assert.ok(a.split('|')[0]!.split(',').length > 300 && a.split('|')[0]!.split(',').length < 400, 'about 70 % arrive');
});

test.run();
