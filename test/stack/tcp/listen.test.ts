/**
 * CLOSED and LISTEN (RFC 9293 §3.10.7.1–2): tuples without a connection, listeners, and the SYN
 * hook used by connect-first NAT.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SynRequest } from '../../../src/stack/tcp/syn-request.js';
import { GUEST_IP, LOCAL_SEQ, REMOTE_IP, REMOTE_PORT, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, FIN, PSH, RST, SYN } from '../../harness/tcp/segments.js';

const closed = suite('CLOSED: segments for unknown tuples');

closed('an ACK for an unknown tuple is answered with RST whose sequence number is that ACK', () => {
  const fx = new TcpFixture({ listen: false });
  fx.send({ flags: ACK, seq: 5, ack: 777 });
  fx.expect([{ flags: RST, seq: 777, ack: 0, window: 0 }]);
  assert.is(fx.ep.stats().resetsSent, 1);
});

closed('a segment without ACK is answered with RST,ACK acknowledging all of it', () => {
  const fx = new TcpFixture({ listen: false });
  fx.send({ flags: PSH | FIN, seq: 100, ack: 0, payload: 'abc' });
  fx.expect([{ flags: RST | ACK, seq: 0, ack: 104, window: 0 }]);
});

closed('an RST for an unknown tuple is dropped silently', () => {
  const fx = new TcpFixture({ listen: false });
  fx.send({ flags: RST, seq: 1, ack: 0 });
  fx.send({ flags: RST | ACK, seq: 1, ack: 9 });
  fx.expectNothing();
});

closed('a SYN with neither listener nor hook is refused with RST,ACK', () => {
  const fx = new TcpFixture({ listen: false });
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  fx.expect([{ flags: RST | ACK, seq: 0, ack: REMOTE_SEQ + 1, window: 0 }]);
});

closed('a SYN-ACK for an unknown tuple is answered with RST <SEQ=SEG.ACK>', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN | ACK, seq: REMOTE_SEQ, ack: 4242 });
  fx.expect([{ flags: RST, seq: 4242, ack: 0, window: 0 }]);
});

const listen = suite('LISTEN: listeners');

listen('a SYN to a listened port gets SYN-ACK with our MSS and an unscaled window', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460 }, 0);
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, ack: REMOTE_SEQ + 1, mss: 1460 }]);
  assert.equal(fx.ep.stats().byState, { 'SYN-RECEIVED': 1 });
});

listen('the accept callback runs once the handshake completes, not before', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  assert.is(fx.conn, undefined, 'not accepted in SYN-RECEIVED');
  fx.send({});
  assert.ok(fx.conn !== undefined);
  assert.equal(fx.ep.stats().byState, { ESTABLISHED: 1 });
});

listen('a wildcard listener (address 0) accepts SYNs to any address on its port', () => {
  const fx = new TcpFixture({ listen: false });
  let accepted = 0;
  fx.ep.listen(0, REMOTE_PORT, () => accepted++);
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, ack: REMOTE_SEQ + 1, mss: 1460 }]);
  fx.send({});
  assert.is(accepted, 1);
});

listen('a closed listener refuses new SYNs and keeps its connections', () => {
  const fx = new TcpFixture({ listen: false });
  const l = fx.ep.listen(REMOTE_IP, REMOTE_PORT, (c) => fx.adopt(c));
  fx.established();
  l.close();
  fx.send({ flags: SYN, seq: 5000, ack: 0, srcPort: 40001 });
  fx.expect([{ flags: RST | ACK, seq: 0, ack: 5001, window: 0 }]);
  fx.send({ payload: 'still here' });
  assert.is(fx.data(), 'still here');
});

const hook = suite('LISTEN: the SYN hook (connect-first)');

function hooked(): { fx: TcpFixture; reqs: SynRequest[] } {
  const fx = new TcpFixture({ listen: false });
  const reqs: SynRequest[] = [];
  fx.ep.onSyn = (r) => void reqs.push(r);
  return { fx, reqs };
}

hook('the hook gets the SYN with its addresses and options, and nothing is sent yet', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1400, windowScale: 7, sackPermitted: true, ts: [55, 0] }, 3);
  fx.expectNothing();
  assert.is(reqs.length, 1);
  const r = reqs[0]!;
  assert.equal([r.srcIp, r.dstIp, r.dstPort, r.receivedAt], [GUEST_IP, REMOTE_IP, REMOTE_PORT, 3]);
  assert.equal(r.params, { irs: REMOTE_SEQ, window: 65535, mss: 1400, windowScale: 7, sackPermitted: true, hasTimestamps: true, tsVal: 55 });
  assert.is(fx.ep.stats().pendingSyns, 1);
});

hook('duplicate SYNs while the decision is pending are ignored', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 }, 1000);
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 }, 3000);
  assert.is(reqs.length, 1);
  fx.expectNothing();
});

hook('accepting sends SYN-ACK and the handshake completes', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460 });
  const c = reqs[0]!.accept({ onEstablished: () => fx.events.push('established') });
  assert.ok(c !== undefined);
  fx.adopt(c!);
  fx.ep.flush();
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }]);
  fx.send({ payload: 'hi' });
  assert.is(fx.data(), 'hi');
  assert.is(reqs[0]!.pending, false);
});

hook('refusing answers RST,ACK <SEQ=0><ACK=ISN+1>, and a later SYN asks the hook again', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  assert.ok(reqs[0]!.refuse());
  fx.expect([{ flags: RST | ACK, seq: 0, ack: REMOTE_SEQ + 1, window: 0 }]);
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 }, 1000);
  assert.is(reqs.length, 2);
});

hook('dropping answers nothing', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  reqs[0]!.drop();
  fx.ep.flush();
  fx.expectNothing();
  assert.is(fx.ep.stats().pendingSyns, 0);
});

hook('only the first decision counts', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  reqs[0]!.drop();
  assert.is(reqs[0]!.accept(), undefined);
  assert.is(reqs[0]!.refuse(), false);
  fx.ep.flush();
  fx.expectNothing();
});

hook('tearing a guest down makes its pending requests stale', () => {
  const { fx, reqs } = hooked();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0 });
  fx.ep.abortGuest(GUEST_IP);
  assert.is(reqs[0]!.accept(), undefined);
  fx.ep.flush();
  fx.expectNothing();
});

closed.run();
listen.run();
hook.run();
