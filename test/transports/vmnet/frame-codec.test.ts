import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  encodeFrame,
  FRAME_PREFIX_SIZE,
  FrameDecoder,
  writePrefix,
} from '../../../src/transports/vmnet/frame-codec.js';

/** A decoder that records copies of every frame it emits. */
function recorder(maxFrameSize = 0xffff): { dec: FrameDecoder; frames: Buffer[]; views: { buf: Buffer; off: number }[] } {
  const frames: Buffer[] = [];
  const views: { buf: Buffer; off: number }[] = [];
  const dec = new FrameDecoder({
    maxFrameSize,
    onFrame: (buf, off, len) => {
      views.push({ buf, off });
      frames.push(Buffer.from(buf.subarray(off, off + len)));
    },
  });
  return { dec, frames, views };
}

function stream(frames: Buffer[]): Buffer {
  return Buffer.concat(frames.map((f) => encodeFrame(f)._unsafeUnwrap()));
}

/** Distinct frames of various sizes, including 1 byte and >255 (two-byte prefix values). */
const sample = [Buffer.from([0x42]), Buffer.alloc(60, 7), Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff)), Buffer.alloc(2, 9)];

test('writePrefix writes u16 LE at an offset and refuses 0 and > 65535', () => {
  const b = Buffer.alloc(8, 0xee);
  assert.ok(writePrefix(b, 3, 0x0102).isOk());
  assert.equal([...b], [0xee, 0xee, 0xee, 0x02, 0x01, 0xee, 0xee, 0xee]);
  assert.ok(writePrefix(b, 0, 65535).isOk());
  assert.equal([...b.subarray(0, 2)], [0xff, 0xff]);
  assert.is(FRAME_PREFIX_SIZE, 2);
  assert.is(writePrefix(b, 0, 0)._unsafeUnwrapErr().kind, 'frame-empty');
  assert.is(writePrefix(b, 0, 65536)._unsafeUnwrapErr().kind, 'frame-too-large');
  assert.is(writePrefix(b, 0, 1.5)._unsafeUnwrapErr().kind, 'frame-too-large');
  assert.equal(encodeFrame(Buffer.from([1, 2, 3]))._unsafeUnwrap(), Buffer.from([3, 0, 1, 2, 3]));
});

test('every frame in one chunk is delivered in one push, as views into that chunk', () => {
  const { dec, frames, views } = recorder();
  const chunk = stream(sample);
  assert.ok(dec.push(chunk).isOk());
  assert.equal(frames, sample);
  assert.ok(views.every((v) => v.buf === chunk), 'whole frames are not copied');
  assert.equal(
    views.map((v) => v.off),
    [2, 5, 67, 369],
  );
  assert.is(dec.pendingBytes, 0);
});

test('a stream cut at every byte boundary decodes to the same frames', () => {
  const all = stream(sample);
  for (let cut = 0; cut <= all.length; cut++) {
    const { dec, frames } = recorder();
    assert.ok(dec.push(all.subarray(0, cut)).isOk());
    assert.ok(dec.push(all.subarray(cut)).isOk());
    assert.equal(frames, sample, `cut at ${cut}`);
    assert.is(dec.pendingBytes, 0);
  }
});

test('one byte per chunk decodes to the same frames, reusing one tail buffer', () => {
  const all = stream(sample);
  const { dec, frames, views } = recorder();
  for (let i = 0; i < all.length; i++) assert.ok(dec.push(all.subarray(i, i + 1)).isOk());
  assert.equal(frames, sample);
  const tails = new Set(views.map((v) => v.buf));
  assert.is(tails.size, 1, 'split frames all land in the same preallocated buffer');
});

test('an oversize length ends the decoder after delivering the frames before it', () => {
  const { dec, frames } = recorder(100);
  const ok100 = Buffer.alloc(100, 1);
  const bad = Buffer.from([101, 0, ...Buffer.alloc(101)]);
  const r = dec.push(Buffer.concat([encodeFrame(ok100)._unsafeUnwrap(), bad]));
  const e = r._unsafeUnwrapErr();
  assert.is(e.kind, 'frame-too-large');
  if (e.kind === 'frame-too-large') assert.equal({ length: e.length, max: e.max }, { length: 101, max: 100 });
  assert.equal(frames, [ok100]);
  // It stays failed: the stream is out of sync.
  assert.is(dec.push(encodeFrame(Buffer.alloc(5))._unsafeUnwrap())._unsafeUnwrapErr().kind, 'frame-too-large');
  assert.is(dec.error?.kind, 'frame-too-large');
  assert.is(frames.length, 1);
});

test('an oversize length split across chunks is caught when its prefix completes', () => {
  const { dec, frames } = recorder(1550);
  assert.ok(dec.push(Buffer.from([0x0f])).isOk()); // low byte of 0x060f = 1551
  const e = dec.push(Buffer.from([0x06, 1, 2, 3]))._unsafeUnwrapErr();
  assert.is(e.kind, 'frame-too-large');
  assert.is(frames.length, 0);
});

test('a zero-length frame is an error, in a chunk or split', () => {
  const a = recorder();
  assert.is(a.dec.push(Buffer.from([0, 0, 5, 0]))._unsafeUnwrapErr().kind, 'frame-empty');
  const b = recorder();
  assert.ok(b.dec.push(Buffer.concat([encodeFrame(Buffer.from([1]))._unsafeUnwrap(), Buffer.from([0])])).isOk());
  assert.is(b.dec.push(Buffer.from([0]))._unsafeUnwrapErr().kind, 'frame-empty');
  assert.equal(b.frames, [Buffer.from([1])]);
});

test('a maximum-size (65535-byte) frame decodes whole and split', () => {
  const big = Buffer.alloc(0xffff, 3);
  const all = stream([big, Buffer.from([1])]);
  const whole = recorder();
  assert.ok(whole.dec.push(all).isOk());
  assert.equal(whole.frames, [big, Buffer.from([1])]);
  const split = recorder();
  assert.ok(split.dec.push(all.subarray(0, 40000)).isOk());
  assert.ok(split.dec.push(all.subarray(40000)).isOk());
  assert.equal(split.frames, [big, Buffer.from([1])]);
});

test('any chunking of a frame stream decodes to the same frames (property)', () => {
  const frameArb = fc.uint8Array({ minLength: 1, maxLength: 400 }).map((u) => Buffer.from(u));
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 0, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (input, cutSeeds) => {
      const all = stream(input);
      const cuts = [...new Set(cutSeeds.map((c) => (all.length === 0 ? 0 : c % (all.length + 1))))].sort((x, y) => x - y);
      const { dec, frames } = recorder(400);
      let prev = 0;
      for (const c of [...cuts, all.length]) {
        assert.ok(dec.push(all.subarray(prev, c)).isOk());
        prev = c;
      }
      assert.equal(frames, input);
      assert.is(dec.pendingBytes, 0);
    }),
  );
});

test.run();
