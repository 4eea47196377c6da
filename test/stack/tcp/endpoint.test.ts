/** Endpoint plumbing: NIC backpressure and drain, unknown MACs, ACK batching, per-guest teardown, keepalive, stats. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GUEST_IP, LOCAL_SEQ, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, PSH, RST, SYN } from '../../harness/tcp/segments.js';

const R = REMOTE_SEQ + 1;
const L = LOCAL_SEQ + 1;

const nic = suite('guest NIC backpressure');

nic('a full NIC queue stops output without retrying; the port drain resumes it', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  fx.out.full = true;
  c.send(Buffer.alloc(3000, 1), 0, 3000);
  fx.ep.flush();
  fx.expectNothing();
  assert.is(fx.ep.stats().txBlocked, 1);
  fx.ep.flush();
  c.send(Buffer.alloc(10, 2), 0, 10);
  fx.ep.flush();
  assert.is(fx.ep.stats().txBlocked, 1, 'blocked connections do not spin on begin()');
  fx.out.full = false;
  fx.ep.onPortDrain(99);
  fx.ep.flush();
  fx.expectNothing('another port drained');
  fx.ep.onPortDrain(7);
  fx.ep.flush();
  assert.equal(fx.out.take().map((s) => s.payloadLen), [1460, 1460, 90]);
});

nic('an unknown guest MAC is retried on the retransmission timer', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 200 } });
  const c = fx.established();
  fx.out.unresolved = true;
  c.send(Buffer.from('abc'), 0, 3);
  fx.ep.flush();
  fx.expectNothing();
  fx.out.unresolved = false;
  fx.advance(200);
  fx.expect([{ flags: ACK | PSH, payload: 'abc' }]);
});

const batching = suite('ACK policy');

batching('ten segments in one turn get one ACK; no delayed-ACK timer is involved', () => {
  const fx = new TcpFixture();
  fx.established();
  const list = [];
  for (let i = 0; i < 10; i++) list.push({ seq: R + 100 * i, payload: 'x'.repeat(100) });
  fx.sendBatch(list);
  fx.expect([{ ack: R + 1000, window: 65535 - 1000 }]);
  fx.advance(60_000);
  fx.expectNothing('no delayed ACK follows, and nothing else either');
});

const teardown = suite('teardown');

teardown('abortGuest frees every connection of that guest silently and leaves others', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ flags: SYN, seq: 5, ack: 0, srcPort: 40000 });
  fx.send({ flags: SYN, seq: 5, ack: 0, srcIp: GUEST_IP + 1, srcPort: 40000 });
  fx.out.take();
  assert.is(fx.ep.stats().connections, 3);
  assert.is(fx.ep.abortGuest(GUEST_IP), 2);
  fx.expectNothing();
  assert.is(fx.ep.stats().connections, 1);
  assert.is(fx.ep.connections()[0]!.remoteIp, GUEST_IP + 1);
  fx.send({ seq: R, payload: 'late' });
  fx.expect([{ flags: RST, seq: L, ack: 0, window: 0 }], 'a late segment of a freed flow meets RST');
});

const ka = suite('keepalive');

ka('off by default: an idle connection sends nothing for hours', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.advance(3 * 3600_000);
  fx.expectNothing();
});

ka('when configured: probes <SEQ=SND.NXT-1> after the idle time, gives up after the probes', () => {
  const fx = new TcpFixture({ config: { keepalive: { idleMs: 10_000, intervalMs: 1000, probes: 2 } } });
  fx.established();
  fx.advance(9_999);
  fx.expectNothing();
  fx.advance(1);
  fx.expect([{ seq: L - 1 }]);
  fx.send({});
  fx.advance(10_000);
  fx.expect([{ seq: L - 1 }], 'an answer restarts the idle period');
  fx.advance(1000);
  fx.expect([{ seq: L - 1 }]);
  fx.advance(1000);
  fx.expect([{ flags: RST, seq: L, ack: 0, window: 0 }]);
  assert.equal(fx.events, ['close:timeout']);
  assert.is(fx.ep.stats().keepaliveProbes, 3);
});

const stats = suite('stats');

stats('connections by state and segment counters', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ flags: SYN, seq: 5, ack: 0, srcPort: 40000 });
  const s = fx.ep.stats();
  assert.equal(s.byState, { ESTABLISHED: 1, 'SYN-RECEIVED': 1 });
  assert.equal([s.connections, s.segmentsIn, s.segmentsOut, s.connectionsOpened], [2, 3, 2, 2]);
});

nic.run();
batching.run();
teardown.run();
ka.run();
stats.run();
