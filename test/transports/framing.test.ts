import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  FrameDecoder,
  QEMU_MAX_STREAM_FRAME,
  maxStreamFrame,
  qemuFraming,
  u16leFraming,
  type Framing,
  type FramingError,
} from '../../src/transports/framing.js';

function encode(framing: Framing, frames: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of frames) {
    const p = Buffer.alloc(framing.prefix);
    framing.write(p, 0, f.length);
    parts.push(p, f);
  }
  return Buffer.concat(parts);
}

function decoder(framing: Framing, max = 65549) {
  const got: Buffer[] = [];
  const errors: FramingError[] = [];
  const skipped: number[] = [];
  const d = new FrameDecoder(
    framing,
    max,
    (b, off, len) => got.push(Buffer.from(b.subarray(off, off + len))),
    (e) => errors.push(e),
    (len) => skipped.push(len),
  );
  return { d, got, errors, skipped };
}

/** Feeds `stream` in chunks of the given sizes (cycled). */
function feed(d: FrameDecoder, stream: Buffer, sizes: number[]): void {
  let i = 0;
  let k = 0;
  while (i < stream.length) {
    const n = sizes[k++ % sizes.length]!;
    d.push(stream.subarray(i, Math.min(stream.length, i + n)));
    i += n;
  }
}

test('qemu framing is a 4-byte big-endian length', () => {
  const b = encode(qemuFraming, [Buffer.from('abc')]);
  assert.equal([...b], [0, 0, 0, 3, 97, 98, 99]);
});

test('stdio/vmnet framing is a 2-byte little-endian length', () => {
  const b = encode(u16leFraming, [Buffer.alloc(0x0102, 1)]);
  assert.equal([...b.subarray(0, 2)], [0x02, 0x01]);
});

for (const framing of [qemuFraming, u16leFraming]) {
  test(`${framing.name}: frames split at every byte boundary decode identically`, () => {
    const frames = [Buffer.alloc(60, 1), Buffer.alloc(1514, 2), Buffer.alloc(61, 3)];
    const stream = encode(framing, frames);
    for (let cut = 1; cut < stream.length; cut++) {
      const { d, got, errors } = decoder(framing);
      d.push(stream.subarray(0, cut));
      d.push(stream.subarray(cut));
      assert.is(errors.length, 0);
      assert.equal(got, frames, `cut at ${cut}`);
    }
  });

  test(`${framing.name}: any chunking decodes to the same frames (property)`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 20 }),
        (raw, cuts) => {
          const frames = raw.map((r) => Buffer.from(r));
          const stream = encode(framing, frames);
          const { d, got } = decoder(framing);
          let i = 0;
          let k = 0;
          while (i < stream.length) {
            const n = cuts[k++ % cuts.length]!;
            d.push(stream.subarray(i, Math.min(stream.length, i + n)));
            i += n;
          }
          assert.equal(got, frames);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  // An oversized frame is skipped and reported, and the stream goes on (protocols.md §1.6:
  // vpnkit reads any length the u16 allows). Before, it ended the stream.
  test(`${framing.name}: an oversize frame alone is skipped and reported`, () => {
    const { d, got, errors, skipped } = decoder(framing, 1514);
    assert.is(d.push(encode(framing, [Buffer.alloc(1518, 5)])), true);
    assert.equal(skipped, [1518]);
    assert.is(got.length, 0);
    assert.is(errors.length, 0);
    assert.is(d.pending, 0);
  });

  test(`${framing.name}: an oversize frame between good ones in one chunk: the others arrive`, () => {
    const { d, got, errors, skipped } = decoder(framing, 1514);
    const frames = [Buffer.alloc(60, 1), Buffer.alloc(1518, 2), Buffer.alloc(61, 3)];
    assert.is(d.push(encode(framing, frames)), true);
    assert.equal(got, [frames[0], frames[2]]);
    assert.equal(skipped, [1518]);
    assert.is(errors.length, 0);
    assert.is(d.push(encode(framing, [Buffer.alloc(62, 4)])), true, 'input after the skip is decoded');
    assert.is(got.length, 3);
  });

  test(`${framing.name}: an oversize frame split at every byte boundary is skipped once, the next frame arrives`, () => {
    const frames = [Buffer.alloc(1518, 2), Buffer.alloc(61, 3)];
    const stream = encode(framing, frames);
    for (let cut = 1; cut < stream.length; cut++) {
      const { d, got, errors, skipped } = decoder(framing, 1514);
      d.push(stream.subarray(0, cut));
      d.push(stream.subarray(cut));
      assert.is(errors.length, 0, `cut at ${cut}`);
      assert.equal(skipped, [1518], `cut at ${cut}`);
      assert.equal(got, [frames[1]], `cut at ${cut}`);
    }
  });

  test(`${framing.name}: an oversize frame over many small chunks, pending counts its bytes`, () => {
    const { d, got, skipped, errors } = decoder(framing, 100);
    const stream = encode(framing, [Buffer.alloc(5000, 9), Buffer.alloc(60, 8)]);
    d.push(stream.subarray(0, 1));
    assert.is(d.pending, 1);
    d.push(stream.subarray(1, 3000));
    assert.equal(skipped, [5000], 'reported as soon as the length is known');
    assert.is(d.pending, 3000);
    feed(d, stream.subarray(3000), [7, 300, 1]);
    assert.is(errors.length, 0);
    assert.equal(got, [Buffer.alloc(60, 8)]);
    assert.is(d.pending, 0);
  });

  test(`${framing.name}: any chunking of a mix of good and oversize frames (property)`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 20 }),
        (lens, cuts) => {
          const frames = lens.map((n, k) => Buffer.alloc(n, k + 1));
          const { d, got, skipped, errors } = decoder(framing, 1514);
          feed(d, encode(framing, frames), cuts);
          assert.is(errors.length, 0);
          assert.equal(got, frames.filter((f) => f.length <= 1514));
          assert.equal(skipped, lens.filter((n) => n > 1514));
          assert.is(d.pending, 0);
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });

  test(`${framing.name}: onOversize may end the stream (a port closing): nothing after it is decoded`, () => {
    const got: number[] = [];
    let d: FrameDecoder | undefined;
    d = new FrameDecoder(framing, 100, (_b, _o, len) => got.push(len), () => {}, () => d!.fail({ kind: 'frame-empty', message: 'closed', length: 0 }));
    assert.is(d.push(encode(framing, [Buffer.alloc(200), Buffer.alloc(60)])), false);
    assert.is(got.length, 0);
  });

  test(`${framing.name}: a zero-length frame is an error`, () => {
    const { d, errors } = decoder(framing);
    d.push(Buffer.alloc(framing.prefix));
    assert.is(errors[0]?.kind, 'frame-empty');
  });

  test(`${framing.name}: a zero length right after a skipped oversize frame still ends the stream`, () => {
    const { d, got, errors, skipped } = decoder(framing, 1514);
    const stream = Buffer.concat([encode(framing, [Buffer.alloc(1518)]), Buffer.alloc(framing.prefix), encode(framing, [Buffer.alloc(60)])]);
    assert.is(d.push(stream), false);
    assert.equal(skipped, [1518]);
    assert.is(errors.length, 1);
    assert.is(errors[0]!.kind, 'frame-empty');
    assert.is(got.length, 0);
  });

  test(`${framing.name}: pending reports a torn frame`, () => {
    const { d } = decoder(framing);
    const s = encode(framing, [Buffer.alloc(100)]);
    d.push(s.subarray(0, 50));
    assert.is(d.pending, 50);
  });
}

test('stdio/vmnet: every length the u16 allows is a frame (skipped when over the maximum)', () => {
  assert.is(maxStreamFrame(u16leFraming, 1514), 0xffff);
  const { d, got, errors, skipped } = decoder(u16leFraming, 1514);
  d.push(encode(u16leFraming, [Buffer.alloc(0xffff), Buffer.alloc(60)]));
  assert.is(errors.length, 0);
  assert.equal(skipped, [0xffff]);
  assert.is(got.length, 1);
});

test('qemu: a length over what QEMU itself can carry ends the stream with a reason', () => {
  assert.is(maxStreamFrame(qemuFraming, 1514), QEMU_MAX_STREAM_FRAME);
  for (const bad of [QEMU_MAX_STREAM_FRAME + 1, 0x7fffffff, 0xffffffff]) {
    const { d, got, errors, skipped } = decoder(qemuFraming, 1514);
    const good = encode(qemuFraming, [Buffer.alloc(60)]);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(bad >>> 0, 0);
    assert.is(d.push(Buffer.concat([good, prefix, Buffer.alloc(100)])), false);
    assert.is(got.length, 1, 'frames before the bad length are delivered');
    assert.is(skipped.length, 0);
    assert.is(errors.length, 1);
    assert.is(errors[0]!.kind, 'frame-too-large');
    assert.is(errors[0]!.length, bad >>> 0);
    assert.match(errors[0]!.message, /out of step/);
    assert.is(d.push(good), false, 'input after the error is ignored');
    assert.is(got.length, 1);
  }
});

test('qemu: an absurd length whose prefix is split across chunks still fails', () => {
  const { d, errors } = decoder(qemuFraming, 1514);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(1_000_000, 0);
  assert.is(d.push(prefix.subarray(0, 3)), true);
  assert.is(d.push(Buffer.concat([prefix.subarray(3), Buffer.alloc(50)])), false);
  assert.is(errors[0]?.kind, 'frame-too-large');
});

test('qemu: the largest length QEMU carries is skipped, not refused', () => {
  const { d, got, errors, skipped } = decoder(qemuFraming, 1514);
  d.push(encode(qemuFraming, [Buffer.alloc(QEMU_MAX_STREAM_FRAME), Buffer.alloc(60)]));
  assert.is(errors.length, 0);
  assert.equal(skipped, [QEMU_MAX_STREAM_FRAME]);
  assert.is(got.length, 1);
});

test('frames up to 65535+14 bytes pass with qemu framing (MTU 65520)', () => {
  const { d, got, errors } = decoder(qemuFraming, 65549);
  const big = Buffer.alloc(65534, 7);
  d.push(encode(qemuFraming, [big]));
  assert.is(errors.length, 0);
  assert.is(got[0]!.length, 65534);
});

test.run();
