/** Sequence numbers wrapping past 2^32 in the middle of a transfer, both directions (RFC 9293 §3.4). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../../src/runtime/rng.js';
import { seqAdd } from '../../../src/stack/tcp/seq.js';
import { TcpFixture } from '../../harness/tcp/fixture.js';
import { FIN, ACK } from '../../harness/tcp/segments.js';

const data = (n: number, seed: number): Buffer => {
  const r = new SeededRng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.u32() & 255;
  return b;
};

test('a transfer across the wrap delivers every byte in order, acks wrap, the FIN lands after the wrap', () => {
  const fx = new TcpFixture({ localSeq: 0xffffe000, remoteSeq: 0xfffff000 });
  fx.established();
  const payload = data(20_000, 1);
  let seq = seqAdd(0xfffff000, 1);
  for (let off = 0; off < payload.length; off += 1000) {
    fx.send({ seq, ack: seqAdd(0xffffe000, 1), payload: payload.subarray(off, off + 1000) });
    seq = seqAdd(seq, 1000);
  }
  assert.ok(Buffer.concat(fx.received).equals(payload));
  const acks = fx.out.take().map((s) => s.ack);
  assert.is(acks.at(-1), seqAdd(0xfffff001, 20_000));
  assert.ok(acks.some((a) => a < 0x1000), 'the ACK number wrapped');
  fx.send({ seq, ack: seqAdd(0xffffe000, 1), flags: FIN | ACK });
  assert.equal(fx.events, ['end']);
});

test('our data across the wrap: segments are numbered modulo 2^32 and ACKs past the wrap release them', () => {
  const fx = new TcpFixture({ localSeq: 0xfffffc00, remoteSeq: 1 });
  const c = fx.established({}, { ack: 0xfffffc01 });
  const payload = data(30_000, 2);
  assert.is(c.send(payload, 0, payload.length), payload.length);
  const got: Buffer[] = [];
  for (let round = 0; round < 20 && got.reduce((n, b) => n + b.length, 0) < payload.length; round++) {
    fx.ep.flush();
    const segs = fx.out.take();
    for (const s of segs) got.push(s.payload);
    if (segs.length === 0) break;
    const last = segs.at(-1)!;
    fx.send({ seq: 2, ack: seqAdd(last.seq, last.payloadLen) });
  }
  assert.ok(Buffer.concat(got).equals(payload));
  assert.is(c.unacknowledged, 0);
  assert.is(c.sndUna, seqAdd(0xfffffc01, 30_000));
  assert.ok(c.sndUna < 0xfffffc01, 'SND.UNA wrapped');
});

test('out-of-order data straddling the wrap is reassembled', () => {
  const fx = new TcpFixture({ remoteSeq: 0xfffffff0 });
  fx.established();
  const base = 0xfffffff1;
  fx.send({ seq: seqAdd(base, 10), payload: 'KLMNOPQRST' }); // crosses 0
  fx.send({ seq: base, payload: 'ABCDEFGHIJ' });
  assert.is(fx.data(), 'ABCDEFGHIJKLMNOPQRST');
  assert.is(fx.conn!.rcvNxt, seqAdd(base, 20));
});

test.run();
