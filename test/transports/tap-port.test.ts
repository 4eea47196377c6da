/**
 * TapPort over an in-memory TAP: one write per frame, frames in reach the switch, refused writes
 * are counted drops, a broken device closes only this port. The real TAP is exercised end to end
 * in test/e2e/host-interface.test.ts.
 */
import { err, ok, type Result } from 'neverthrow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FrameHandler } from '../../src/native/tap-device.js';
import { osError, uvCode, type OsError } from '../../src/native/os-error.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { Switch } from '../../src/switch/switch.js';
import { TapPort, type FrameDevice, type TapPortCloseReason } from '../../src/transports/tap-port.js';
import { Drop } from '../../src/wire/drop.js';
import { CapturePort, ethFrame } from '../harness/capture-port.js';

/** A TAP whose reads the test injects and whose writes it records; `next` decides each write. */
class FakeTap implements FrameDevice {
  readonly name = 'fake0';
  readonly writes: Buffer[] = [];
  next: Array<'ok' | 'full' | string> = [];
  closed = false;
  private frame: FrameHandler | undefined;
  private error: ((e: OsError) => void) | undefined;
  onFrame(h: FrameHandler): void {
    this.frame = h;
  }
  onError(h: (e: OsError) => void): void {
    this.error = h;
  }
  write(buf: Uint8Array, off: number, len: number): Result<boolean, OsError> {
    const what = this.next.shift() ?? 'ok';
    if (what === 'full') return ok(false);
    if (what !== 'ok') return err(osError('tap write', uvCode(what), this.name));
    this.writes.push(Buffer.from(buf.subarray(off, off + len)));
    return ok(true);
  }
  close(): void {
    this.closed = true;
  }
  /** Simulates one read: the bytes sit in a reused buffer, as TapDevice does. */
  receive(frame: Buffer): void {
    const reused = Buffer.alloc(65 * 1024, 0xee);
    frame.copy(reused);
    this.frame!(reused, frame.length);
    reused.fill(0xee); // anything kept past the call would now read garbage
  }
  fail(code: string): void {
    this.error!(osError('poll', uvCode(code), this.name));
  }
}

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function setup(maxFrame = 1514) {
  const sw = new Switch({ clock: new ManualClock() });
  const dev = new FakeTap();
  const port = new TapPort(dev, { name: 'tap:fake0', maxFrame });
  const other = new CapturePort('guest', 1514);
  sw.attach(port);
  sw.attach(other);
  port.onFrame = (p, b, off, len) => sw.input(p, b, off, len);
  const reasons: TapPortCloseReason[] = [];
  port.onClose = (r) => reasons.push(r);
  port.start();
  return { sw, dev, port, other, reasons };
}

test('a frame read from the TAP reaches the other port intact, copied out of the reused buffer', () => {
  const { dev, other, port } = setup();
  const f = ethFrame('ff:ff:ff:ff:ff:ff', A, 0x0806, 46);
  dev.receive(f);
  const got = other.take();
  assert.is(got.length, 1);
  assert.equal(got[0], f);
  assert.is(port.counters.framesIn, 1);
  assert.is(port.counters.bytesIn, 60);
});

test('frames to the TAP go out one write per frame, straight from the sender', () => {
  const { sw, dev, other, port } = setup();
  dev.receive(ethFrame('ff:ff:ff:ff:ff:ff', A, 0x0806)); // the switch learns A on the TAP port
  const f1 = ethFrame(A, B, 0x0800, 100);
  const f2 = ethFrame(A, B, 0x0800, 200);
  sw.input(other, f1, 0, f1.length);
  sw.input(other, f2, 0, f2.length);
  assert.is(dev.writes.length, 2);
  assert.equal(dev.writes[0], f1);
  assert.equal(dev.writes[1], f2);
  assert.is(port.counters.framesOut, 2);
});

test('a frame built in place through reserve/commit is one write of exactly its bytes', () => {
  const { dev, port } = setup();
  const off = port.reserve(80);
  assert.is(off, 0);
  port.txBuf.fill(0x42, off, off + 80);
  port.commit(off, 64);
  assert.is(dev.writes.length, 1);
  assert.is(dev.writes[0]!.length, 64);
  assert.ok(dev.writes[0]!.every((x) => x === 0x42));
});

test('the gateway path (switch.begin/commit) writes into the TAP port buffer', () => {
  const { sw, dev } = setup();
  dev.receive(ethFrame('ff:ff:ff:ff:ff:ff', A, 0x0806));
  const buf = sw.begin(0x02000000000a, 60)!;
  assert.ok(buf !== undefined);
  buf.fill(7, sw.txOff, sw.txOff + 60);
  sw.commit(60);
  assert.is(dev.writes.length, 1);
  assert.ok(dev.writes[0]!.every((x) => x === 7));
});

test('a full kernel queue drops the frame and counts it; the next frame goes through', () => {
  const { sw, dev, other, port } = setup();
  dev.receive(ethFrame('ff:ff:ff:ff:ff:ff', A, 0x0806));
  dev.next = ['full', 'ok'];
  const f = ethFrame(A, B, 0x0800, 100);
  sw.input(other, f, 0, f.length);
  sw.input(other, f, 0, f.length);
  assert.is(port.counters.drops[Drop.TxFull], 1);
  assert.is(port.counters.framesOut, 1);
  assert.is(dev.writes.length, 1);
  // The same through reserve/commit: the drop is counted by the port itself.
  dev.next = ['full'];
  port.commit(port.reserve(60), 60);
  assert.is(port.counters.drops[Drop.TxFull], 2);
  assert.ok(port.writable, 'a full queue does not close the port');
});

test('EIO (link not up yet) is a counted drop, not a closed port', () => {
  const { dev, port, reasons } = setup();
  dev.next = ['EIO'];
  assert.is(port.deliver(ethFrame(A, B, 0x0800), 0, 60), Drop.TxFull);
  assert.is(port.txErrors, 1);
  assert.is(reasons.length, 0);
  assert.not.ok(dev.closed);
});

test('a broken descriptor closes the port once, with the error, and closes the device', () => {
  const { dev, port, reasons } = setup();
  dev.next = ['EBADF'];
  assert.is(port.deliver(ethFrame(A, B, 0x0800), 0, 60), Drop.TxFull);
  assert.ok(dev.closed);
  assert.is(reasons.length, 1);
  assert.is(reasons[0]!.kind, 'error');
  assert.match(reasons[0]!.message, /EBADF/);
  assert.is(port.reserve(60), -1);
  assert.not.ok(port.writable);
  port.close();
  assert.is(reasons.length, 1, 'closing again reports nothing more');
});

test('a read error from the device closes the port with that error', () => {
  const { dev, reasons, port } = setup();
  dev.fail('ENODEV');
  assert.is(reasons.length, 1);
  assert.is(reasons[0]!.kind, 'error');
  assert.match(reasons[0]!.message, /tap:fake0.*ENODEV/);
  assert.ok(port.isClosed);
});

test('frames over maxFrame are refused: TooBig on deliver, -1 on reserve; the switch drops oversize input', () => {
  const { dev, port } = setup(1514);
  const big = Buffer.alloc(1515);
  assert.is(port.deliver(big, 0, big.length), Drop.TooBig);
  assert.is(port.reserve(1515), -1);
  assert.is(dev.writes.length, 0);
  dev.receive(ethFrame(B, A, 0x0800, 1515 - 14));
  assert.is(port.counters.drops[Drop.TooBig], 1);
});

test('an exception in the frame sink closes this port only, with an error reason', () => {
  const { dev, port, reasons } = setup();
  port.onFrame = () => {
    throw new Error('boom');
  };
  dev.receive(ethFrame(B, A, 0x0800));
  assert.is(reasons.length, 1);
  assert.match(reasons[0]!.message, /internal error.*boom/);
  assert.ok(dev.closed);
});

test.run();
