/** Loss: RTO with backoff and Karn (RFC 6298), go-back-N after a timeout, fast retransmit (RFC 5681 §3.2), NewReno (RFC 6582), SACK recovery (RFC 6675). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LOCAL_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, PSH, RST } from '../../harness/tcp/segments.js';

const L = LOCAL_SEQ + 1;
const MSS = 1460;
const chunk = (i: number): string => String.fromCharCode(65 + i).repeat(MSS);

/** Established at t=0 (RTT sample 0 → RTO = the 200 ms floor), with `n` full segments sent. */
function sending(n: number, sack = false, config = {}): TcpFixture {
  const fx = new TcpFixture({ config: { minRtoMs: 200, ...config } });
  const c = fx.established(sack ? { sackPermitted: true } : {});
  for (let i = 0; i < n; i++) c.send(Buffer.from(chunk(i)), 0, MSS);
  fx.ep.flush();
  assert.is(fx.out.take().length, n);
  return fx;
}

const rto = suite('retransmission timeout');

rto('unacknowledged data is resent after the RTO, which doubles on every expiry', () => {
  const fx = sending(0);
  fx.conn!.send(Buffer.from('abc'), 0, 3);
  fx.ep.flush();
  fx.out.take();
  fx.advance(199);
  fx.expectNothing();
  fx.advance(1);
  fx.expect([{ flags: ACK | PSH, payload: 'abc' }], 'at 200');
  fx.advance(399);
  fx.expectNothing();
  fx.advance(1);
  fx.expect([{ flags: ACK | PSH, payload: 'abc' }], 'at 600');
  fx.advance(800);
  fx.expect([{ flags: ACK | PSH, payload: 'abc' }], 'at 1400');
  const s = fx.ep.stats();
  assert.equal([s.timeouts, s.retransmits], [3, 3]);
});

rto('Karn: an ACK of a retransmitted segment is no RTT sample; the backed-off RTO holds until a fresh one', () => {
  const fx = sending(0);
  const c = fx.conn!;
  c.send(Buffer.from('a'), 0, 1);
  fx.ep.flush();
  fx.advance(200);
  fx.out.take();
  fx.send({ ack: L + 1 }, 250);
  assert.is(c.rtt.srtt, 0, 'no sample from the ambiguous ACK');
  assert.is(c.rtt.backoff, 1);
  assert.is(c.rtt.rto, 400);
  c.send(Buffer.from('b'), 0, 1);
  fx.ep.flush();
  fx.out.take();
  fx.send({ ack: L + 2 }, 260);
  assert.is(c.rtt.srtt, 10 / 8, 'sampled 10 ms (RFC 6298 §2.3 smoothing)');
  assert.is(c.rtt.backoff, 0);
});

rto('after maxRetransmits the connection is reset and reports timeout', () => {
  const fx = sending(0, false, { maxRetransmits: 2 });
  fx.conn!.send(Buffer.from('abc'), 0, 3);
  fx.ep.flush();
  fx.out.take();
  fx.advance(600);
  assert.is(fx.out.take().length, 2);
  fx.advance(800);
  fx.expect([{ flags: RST, seq: L + 3, ack: 0, window: 0 }]);
  assert.equal(fx.events, ['close:timeout']);
  assert.is(fx.ep.connections().length, 0);
});

rto('a timeout goes back to SND.UNA with a one-segment window, then slow start resends the rest', () => {
  const fx = sending(4);
  fx.advance(200);
  fx.expect([{ payload: chunk(0) }], 'cwnd = 1 SMSS (RFC 5681 §3.1)');
  fx.send({ ack: L + MSS });
  fx.expect([{ seq: L + MSS, payload: chunk(1) }, { seq: L + 2 * MSS, payload: chunk(2) }], 'cwnd grew by the ACKed bytes');
  fx.send({ ack: L + 3 * MSS });
  fx.expect([{ seq: L + 3 * MSS, flags: ACK | PSH, payload: chunk(3) }]);
});

const fast = suite('fast retransmit and NewReno');

fast('three duplicate ACKs resend the first unacknowledged segment at once', () => {
  const fx = sending(6);
  fx.send({ ack: L + MSS });
  fx.expectNothing();
  fx.send({ ack: L + MSS });
  fx.send({ ack: L + MSS });
  fx.expectNothing('two duplicates are not enough');
  fx.send({ ack: L + MSS });
  fx.expect([{ seq: L + MSS, payload: chunk(1) }]);
  const c = fx.conn!;
  assert.is(c.ssthresh, (5 * MSS) / 2, 'ssthresh = FlightSize / 2');
  assert.is(fx.ep.stats().fastRetransmits, 1);
});

fast('a partial ACK resends the next hole; a full ACK ends recovery with cwnd = ssthresh', () => {
  const fx = sending(6);
  for (let i = 0; i < 4; i++) fx.send({ ack: L + MSS });
  fx.out.take();
  fx.send({ ack: L + 3 * MSS });
  fx.expect([{ seq: L + 3 * MSS, payload: chunk(3) }], 'RFC 6582 §3.2 step 4');
  const c = fx.conn!;
  assert.ok(c.inRecovery);
  fx.send({ ack: L + 6 * MSS });
  assert.not.ok(c.inRecovery);
  assert.is(c.cwnd, c.ssthresh);
});

fast('an ACK that changes the window is not a duplicate', () => {
  const fx = sending(6);
  fx.send({ ack: L + MSS });
  for (let i = 0; i < 3; i++) fx.send({ ack: L + MSS, window: 60000 - i });
  assert.is(fx.ep.stats().fastRetransmits, 0);
});

const sack = suite('SACK-based recovery');

sack('holes are resent and SACKed segments skipped', () => {
  const fx = sending(6, true);
  // Segments 0 and 2 are lost: 1 and 3..5 arrived.
  fx.send({ ack: L, sack: [[L + MSS, L + 2 * MSS]] });
  fx.expectNothing();
  fx.send({ ack: L, sack: [[L + 3 * MSS, L + 6 * MSS], [L + MSS, L + 2 * MSS]] });
  fx.expect([{ payload: chunk(0) }, { seq: L + 2 * MSS, payload: chunk(2) }], 'three segments SACKed above the hole: recovery (RFC 6675 §5)');
  fx.send({ ack: L + 6 * MSS });
  assert.not.ok(fx.conn!.inRecovery);
  fx.advance(10_000);
  fx.expectNothing('everything acknowledged: no timeout');
});

sack('SACK blocks outside the flight are ignored', () => {
  const fx = sending(2, true);
  fx.send({ ack: L, sack: [[L + 50_000, L + 60_000], [L - 5000, L - 10]] });
  assert.is(fx.conn!.sacks.count, 0);
});

rto.run();
fast.run();
sack.run();
