import { Duplex, PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { qemuFraming } from '../../src/transports/framing.js';
import { StreamPort, type StreamPortCloseReason } from '../../src/transports/stream-port.js';
import { Drop } from '../../src/wire/drop.js';

/** A duplex whose written bytes are collected and whose readable side the test feeds. */
function pipePair() {
  const incoming = new PassThrough();
  const written: Buffer[] = [];
  let writes = 0;
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(Buffer.from(chunk));
      writes++;
      cb();
    },
  });
  incoming.on('data', (c) => d.push(c));
  incoming.on('end', () => d.push(null));
  return { d, incoming, written, writesCount: () => writes };
}

const tick = () => new Promise((r) => setImmediate(r));

test('frames committed in one turn leave as one write with their prefixes', async () => {
  const { d, written, writesCount } = pipePair();
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514 });
  p.start();
  for (let i = 0; i < 10; i++) {
    const o = p.reserve(60);
    p.txBuf.fill(i, o, o + 60);
    p.commit(o, 60);
  }
  await tick();
  assert.is(writesCount(), 1);
  const all = Buffer.concat(written);
  assert.is(all.length, 640);
  assert.is(all.readUInt32BE(0), 60);
  assert.is(all[4 + 60 + 4], 1);
});

test('incoming frames are decoded and handed on as views', async () => {
  const { d, incoming } = pipePair();
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514 });
  const got: number[] = [];
  p.onFrame = (_p, b, off, len) => got.push(len, b[off]!);
  p.start();
  const f = Buffer.alloc(4 + 60 + 4 + 70);
  f.writeUInt32BE(60, 0);
  f.fill(9, 4, 64);
  f.writeUInt32BE(70, 64);
  f.fill(8, 68);
  incoming.write(f.subarray(0, 30));
  incoming.write(f.subarray(30));
  await tick();
  assert.equal(got, [60, 9, 70, 8]);
});

test('bytes that came with a handshake are decoded first', async () => {
  const { d } = pipePair();
  const initial = Buffer.alloc(4 + 60);
  initial.writeUInt32BE(60, 0);
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514, initial });
  let n = 0;
  p.onFrame = () => n++;
  p.start();
  assert.is(n, 1);
});

test('over the high-water mark reserve refuses, and drain is signalled once under it', async () => {
  let release: (() => void) | undefined;
  const d = new Duplex({
    read() {},
    highWaterMark: 1024,
    write(_c, _e, cb) {
      release = cb;
    },
  });
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514, txHighWater: 4096 });
  let drained = 0;
  p.onDrain = () => drained++;
  p.start();
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    const o = p.reserve(1000);
    if (o < 0) refused = true;
    else p.commit(o, 1000);
    p.flush();
  }
  assert.ok(refused, 'reserve refused once the queue is full');
  assert.is(p.writable, false);
  while (release) {
    const r = release;
    release = undefined;
    r();
    await tick();
  }
  assert.is(drained, 1);
  assert.is(p.writable, true);
});

/**
 * A duplex that keeps every chunk it is given (the port's memory, not a copy) and completes writes
 * only when told; `written` holds what each write carried when it completed, as a kernel would.
 */
function slowSink() {
  const chunks: Buffer[] = [];
  const written: Buffer[] = [];
  const pending: Array<() => void> = [];
  const d = new Duplex({
    read() {},
    highWaterMark: 1 << 30,
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      pending.push(() => {
        written.push(Buffer.from(chunk));
        cb();
      });
    },
  });
  const completeAll = async (): Promise<void> => {
    while (pending.length > 0) {
      pending.shift()!();
      await tick();
    }
  };
  return { d, chunks, written, completeAll };
}

function commitFrame(p: StreamPort, len: number, fill: number): number {
  const o = p.reserve(len);
  p.txBuf.fill(fill, o, o + len);
  p.commit(o, len);
  return o;
}

test('the output buffer starts over once its writes completed, never while one is pending', async () => {
  const { d, chunks, written, completeAll } = slowSink();
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514 });
  p.start();
  const first = commitFrame(p, 100, 1);
  p.flush();
  const second = commitFrame(p, 100, 2);
  assert.ok(second > first, 'the first write is pending: its bytes are not reused');
  p.flush();
  assert.ok(chunks[0]!.subarray(4).every((x) => x === 1), 'the pending write still holds its own bytes');
  await completeAll();
  assert.is(commitFrame(p, 100, 3), first, 'all writes done: back to the start of the same buffer');
  p.flush();
  await completeAll();
  assert.equal(
    written.map((c) => [c.readUInt32BE(0), c[4]]),
    [
      [100, 1],
      [100, 2],
      [100, 3],
    ],
  );
});

test('a full output buffer still being written is swapped; the bytes of both stay intact', async () => {
  const { d, written, completeAll } = slowSink();
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514 });
  p.start();
  const firstBuf = p.txBuf;
  let frames = 0;
  while (p.txBuf === firstBuf) {
    commitFrame(p, 1500, frames & 0xff);
    frames++;
    if (frames % 10 === 0) p.flush();
  }
  p.flush();
  await completeAll();
  const all = Buffer.concat(written);
  assert.is(all.length, frames * 1504);
  for (let i = 0; i < frames; i++) {
    assert.is(all.readUInt32BE(i * 1504), 1500);
    assert.is(all[i * 1504 + 4 + 1499], i & 0xff, `frame ${i} intact`);
  }
});

test('a length that cannot be a frame closes the port with a reason naming it', async () => {
  const { d, incoming } = pipePair();
  const p = new StreamPort(d, { name: 'nic7', framing: qemuFraming, maxFrame: 1514 });
  let reason: StreamPortCloseReason | undefined;
  p.onClose = (r) => (reason = r);
  p.start();
  const f = Buffer.alloc(8);
  f.writeUInt32BE(900000, 0);
  incoming.write(f);
  await tick();
  assert.is(reason?.kind, 'framing');
  assert.match(reason!.message, /nic7.*900000/);
  assert.is(p.reserve(60), -1, 'a closed port takes nothing');
});

test('a zero length closes the port', async () => {
  const { d, incoming } = pipePair();
  const p = new StreamPort(d, { name: 'nic8', framing: qemuFraming, maxFrame: 1514 });
  let reason: StreamPortCloseReason | undefined;
  p.onClose = (r) => (reason = r);
  p.start();
  incoming.write(Buffer.alloc(4));
  await tick();
  assert.is(reason?.kind, 'framing');
  assert.match(reason!.message, /nic8.*zero-length/);
});

// A frame over maxFrame (a 9000-byte jumbo on a 1500 MTU, a VLAN-tagged full-size frame) used to
// close the port; now it is skipped and counted, and the stream goes on (protocols.md §1.6).
test('an oversize frame is skipped and counted as tooBig; the next frame, split across reads, arrives', async () => {
  const { d, incoming } = pipePair();
  const p = new StreamPort(d, { name: 'nic9', framing: qemuFraming, maxFrame: 1514 });
  let reason: StreamPortCloseReason | undefined;
  p.onClose = (r) => (reason = r);
  const got: number[] = [];
  p.onFrame = (_p, b, off, len) => got.push(len, b[off]!);
  const told: number[] = [];
  p.onOversize = (len) => told.push(len);
  p.start();
  const frame = (len: number, fill: number): Buffer => {
    const b = Buffer.alloc(4 + len, fill);
    b.writeUInt32BE(len, 0);
    return b;
  };
  const stream = Buffer.concat([frame(1518, 1), frame(60, 2), frame(9000, 3), frame(70, 4)]);
  for (const [a, b] of [[0, 3], [3, 700], [700, 1600], [1600, 5000], [5000, stream.length]] as const) {
    incoming.write(stream.subarray(a, b));
    await tick();
  }
  assert.is(reason, undefined, 'the port stays open');
  assert.equal(got, [60, 2, 70, 4]);
  assert.equal(told, [1518, 9000]);
  assert.is(p.counters.drops[Drop.TooBig], 2);
  assert.is(p.counters.framesIn, 2, 'the skipped frames count as received (the switch counts the delivered ones)');
  assert.is(p.counters.bytesIn, 1518 + 9000);
});

test('an exception downstream closes only this port', async () => {
  const { d, incoming } = pipePair();
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514 });
  let reason: StreamPortCloseReason | undefined;
  p.onClose = (r) => (reason = r);
  p.onFrame = () => {
    throw new Error('boom');
  };
  p.start();
  const f = Buffer.alloc(64);
  f.writeUInt32BE(60, 0);
  incoming.write(f);
  await tick();
  assert.is(reason?.kind, 'error');
  assert.match(reason!.message, /boom/);
});

test('peer EOF mid-frame is reported as such', async () => {
  const { d, incoming } = pipePair();
  const p = new StreamPort(d, { name: 't', framing: qemuFraming, maxFrame: 1514 });
  let reason: StreamPortCloseReason | undefined;
  p.onClose = (r) => (reason = r);
  p.start();
  const f = Buffer.alloc(20);
  f.writeUInt32BE(60, 0);
  incoming.end(f);
  await tick();
  await tick();
  assert.is(reason?.kind, 'eof');
  assert.match(reason!.message, /mid-frame/);
});

test.run();
