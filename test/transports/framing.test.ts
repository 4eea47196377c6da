import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameDecoder, qemuFraming, u16leFraming, type Framing, type FramingError } from '../../src/transports/framing.js';

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
  const d = new FrameDecoder(framing, max, (b, off, len) => got.push(Buffer.from(b.subarray(off, off + len))), (e) => errors.push(e));
  return { d, got, errors };
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

  test(`${framing.name}: an oversize length ends the stream with a reason`, () => {
    const { d, got, errors } = decoder(framing, 1514);
    const stream = encode(framing, [Buffer.alloc(60), Buffer.alloc(1515), Buffer.alloc(60)]);
    assert.is(d.push(stream), false);
    assert.is(got.length, 1, 'frames before the bad one are delivered');
    assert.is(errors.length, 1);
    assert.is(errors[0]!.kind, 'frame-too-large');
    assert.is(d.push(encode(framing, [Buffer.alloc(60)])), false, 'input after the error is ignored');
    assert.is(got.length, 1);
  });

  test(`${framing.name}: an oversize length split across chunks is caught before buffering`, () => {
    const { d, errors } = decoder(framing, 100);
    const stream = encode(framing, [Buffer.alloc(5000)]);
    d.push(stream.subarray(0, 1));
    d.push(stream.subarray(1, 3000));
    assert.is(errors.length, 1);
  });

  test(`${framing.name}: a zero-length frame is an error`, () => {
    const { d, errors } = decoder(framing);
    d.push(Buffer.alloc(framing.prefix));
    assert.is(errors[0]?.kind, 'frame-empty');
  });

  test(`${framing.name}: pending reports a torn frame`, () => {
    const { d } = decoder(framing);
    const s = encode(framing, [Buffer.alloc(100)]);
    d.push(s.subarray(0, 50));
    assert.is(d.pending, 50);
  });
}

test('frames up to 65535+14 bytes pass with qemu framing (MTU 65520)', () => {
  const { d, got, errors } = decoder(qemuFraming, 65549);
  const big = Buffer.alloc(65534, 7);
  d.push(encode(qemuFraming, [big]));
  assert.is(errors.length, 0);
  assert.is(got[0]!.length, 65534);
});

test.run();
