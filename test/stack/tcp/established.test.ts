/** ESTABLISHED: data both ways, ACK policy, segmentation, coalescing, trimming, reordering (RFC 9293 §3.10.7.4). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { State } from '../../../src/stack/tcp/state.js';
import { LOCAL_SEQ, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, FIN, PSH } from '../../harness/tcp/segments.js';

const R = REMOTE_SEQ + 1;
const L = LOCAL_SEQ + 1;
const text = (n: number, from = 0): string => {
  let s = '';
  for (let i = from; i < from + n; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
};

const rx = suite('ESTABLISHED: receiving');

rx('in-order data is delivered and a batch of segments is acknowledged once', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.sendBatch([{ seq: R, payload: 'abc' }, { seq: R + 3, payload: 'def' }, { seq: R + 6, payload: 'ghi' }]);
  assert.is(fx.data(), 'abcdefghi');
  fx.expect([{ ack: R + 9, window: 65535 - 9 }]);
});

rx('the advertised right edge moves only in steps of at least one MSS (receiver SWS avoidance)', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ seq: R, payload: text(1000) });
  fx.expect([{ ack: R + 1000, window: 65535 - 1000 }], 'edge kept: gain 1000 < MSS');
  fx.send({ seq: R + 1000, payload: text(500, 1000) });
  fx.expect([{ ack: R + 1500, window: 65535 }], 'gain 1500 ≥ MSS: edge moves');
});

rx('a duplicate segment is acknowledged again and not delivered twice', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ seq: R, payload: 'abc' });
  fx.out.take();
  fx.send({ seq: R, payload: 'abc' });
  fx.expect([{ ack: R + 3, window: 65535 - 3 }]);
  assert.is(fx.data(), 'abc');
});

rx('a retransmission that overlaps old and new bytes delivers only the new ones', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ seq: R, payload: 'abc' });
  fx.send({ seq: R + 1, payload: 'bcdef' });
  assert.is(fx.data(), 'abcdef');
});

rx('bytes beyond the advertised window are cut off', () => {
  const fx = new TcpFixture({ config: { receiveBuffer: 1024 } });
  fx.established();
  fx.send({ seq: R, payload: text(1500) });
  assert.is(fx.data(), text(1024));
  fx.expect([{ ack: R + 1024, window: 1024 }]);
});

rx('a segment entirely outside the window is dropped and answered with an ACK', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ seq: R + 70000, payload: 'zzz' });
  fx.expect([{}]);
  assert.is(fx.data(), '');
  assert.is(fx.ep.stats().dropped, 1);
});

rx('a segment after a hole is queued and acknowledged at once; filling the hole delivers both', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ seq: R + 5, payload: 'fghij' });
  fx.expect([{ ack: R }], 'immediate duplicate ACK (RFC 5681 §4.2)');
  assert.is(fx.data(), '');
  fx.send({ seq: R, payload: 'abcde' });
  assert.is(fx.data(), 'abcdefghij');
  fx.expect([{ ack: R + 10, window: 65535 - 10 }]);
  assert.is(fx.ep.stats().outOfOrder, 1);
});

rx('reordered segments in one batch are reassembled in order', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.sendBatch([
    { seq: R + 6, payload: 'ghi' },
    { seq: R + 3, payload: 'def' },
    { seq: R + 9, payload: 'jkl' },
    { seq: R, payload: 'abc' },
  ]);
  assert.is(fx.data(), 'abcdefghijkl');
  const acks = fx.out.take();
  assert.is(acks.at(-1)!.ack, R + 12);
});

rx('with SACK the duplicate ACK lists the queued ranges, latest first (RFC 2018 §4)', () => {
  const fx = new TcpFixture();
  fx.established({ sackPermitted: true });
  fx.send({ seq: R + 10, payload: 'kl' });
  fx.expect([{ ack: R, sack: [[R + 10, R + 12]] }]);
  fx.send({ seq: R + 20, payload: 'uv' });
  fx.expect([{ ack: R, sack: [[R + 20, R + 22], [R + 10, R + 12]] }]);
  fx.send({ seq: R + 12, payload: 'mn' });
  fx.expect([{ ack: R, sack: [[R + 10, R + 14], [R + 20, R + 22]] }]);
});

rx('a FIN that arrives beyond a hole is held until the hole fills', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ seq: R + 3, flags: FIN | ACK, payload: 'def' });
  fx.expect([{ ack: R }]);
  fx.expectState(State.Established);
  fx.send({ seq: R, payload: 'abc' });
  fx.expectState(State.CloseWait);
  assert.is(fx.data(), 'abcdef');
  assert.equal(fx.events, ['end']);
  fx.expect([{ ack: R + 7, window: 65535 - 7 }], 'the FIN takes a sequence number too');
});

rx('out-of-order ranges beyond the configured count are dropped, not queued', () => {
  const fx = new TcpFixture({ config: { maxOutOfOrderRanges: 2 } });
  fx.established();
  fx.send({ seq: R + 10, payload: 'a' });
  fx.send({ seq: R + 20, payload: 'b' });
  fx.send({ seq: R + 30, payload: 'c' });
  fx.out.take();
  assert.is(fx.conn!.reasm.count, 2);
  fx.send({ seq: R, payload: text(21) });
  assert.is(fx.data(), text(21), 'queued ranges inside the new data are superseded; the third range (30) was never queued');
  assert.is(fx.conn!.rcvNxt, R + 21);
});

rx('the guest\'s FIN moves to CLOSE-WAIT, is acknowledged and reported as end', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ flags: FIN | ACK, payload: 'bye' });
  fx.expect([{ ack: R + 4, window: 65535 - 4 }]);
  fx.expectState(State.CloseWait);
  assert.equal(fx.events, ['end']);
});

const tx = suite('ESTABLISHED: sending');

tx('data is cut into MSS-sized segments, PSH on the last', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  assert.is(c.send(Buffer.from(text(4000)), 0, 4000), 4000);
  fx.ep.flush();
  fx.expect([
    { payload: text(1460) },
    { seq: L + 1460, payload: text(1460, 1460) },
    { seq: L + 2920, flags: ACK | PSH, payload: text(1080, 2920) },
  ]);
});

tx('writes within one turn are coalesced into one segment', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  for (const s of ['ab', 'cd', 'ef']) c.send(Buffer.from(s), 0, 2);
  fx.ep.flush();
  fx.expect([{ flags: ACK | PSH, payload: 'abcdef' }]);
});

tx('our data carries the ACK for data received in the same turn', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  fx.conn!.onData = (b, off, len) => void c.send(b, off, len); // echo
  fx.send({ payload: 'ping' });
  fx.expect([{ flags: ACK | PSH, ack: R + 4, window: 65535 - 4, payload: 'ping' }]);
});

tx('the peer\'s window limits what is in flight; a window update releases the rest', () => {
  const fx = new TcpFixture();
  const c = fx.established({}, { window: 1000 });
  c.send(Buffer.from(text(2500)), 0, 2500);
  fx.ep.flush();
  fx.expect([{ payload: text(1000) }]);
  fx.send({ ack: L + 1000, window: 3000 });
  fx.expect([{ seq: L + 1000, payload: text(1460, 1000) }, { seq: L + 2460, flags: ACK | PSH, payload: text(40, 2460) }]);
});

tx('an acknowledgement releases the send buffer and stops the retransmission timer', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('hello'), 0, 5);
  fx.ep.flush();
  fx.out.take();
  fx.send({ ack: L + 5 });
  assert.is(c.unacknowledged, 0);
  fx.advance(120_000);
  fx.expectNothing();
});

tx('send takes only what fits, and onWritable fires once ACKs free room', () => {
  const fx = new TcpFixture({ config: { sendBuffer: 4096 } });
  const c = fx.established();
  assert.is(c.send(Buffer.alloc(5000, 120), 0, 5000), 4096);
  assert.is(c.send(Buffer.alloc(10), 0, 10), 0);
  fx.ep.flush();
  fx.out.take();
  fx.send({ ack: L + 1460 });
  assert.equal(fx.events, [], 'less than half free: keep waiting');
  fx.send({ ack: L + 2920 });
  assert.equal(fx.events, ['writable']);
});

tx('an ACK for data never sent is answered with an ACK and ignored', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('abc'), 0, 3);
  fx.ep.flush();
  fx.out.take();
  fx.send({ ack: L + 100, payload: 'x' });
  fx.expect([{ seq: L + 3 }]);
  assert.is(fx.data(), '', 'the segment is dropped');
  assert.is(c.unacknowledged, 3);
});

rx.run();
tx.run();
