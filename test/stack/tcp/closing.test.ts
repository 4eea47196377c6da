/** FIN-WAIT-1/2, CLOSING, TIME-WAIT, CLOSE-WAIT, LAST-ACK: half-close and both orders of closing (RFC 9293 §3.6). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { State } from '../../../src/stack/tcp/state.js';
import { LOCAL_SEQ, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, FIN, PSH, SYN } from '../../harness/tcp/segments.js';

const R = REMOTE_SEQ + 1;
const L = LOCAL_SEQ + 1;

const fw1 = suite('FIN-WAIT-1');

fw1('shutdown sends FIN after the queued data, in the same segment', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('last words'), 0, 10);
  c.shutdown();
  fx.expectState(State.FinWait1);
  assert.is(c.send(Buffer.from('x'), 0, 1), 0, 'no data after shutdown');
  fx.ep.flush();
  fx.expect([{ flags: ACK | PSH | FIN, payload: 'last words' }]);
});

fw1('the ACK of our FIN moves to FIN-WAIT-2', () => {
  const fx = new TcpFixture();
  fx.finWait1();
  fx.send({ ack: L + 1 });
  fx.expectNothing();
  fx.expectState(State.FinWait2);
});

fw1('data keeps arriving after our FIN (half-close)', () => {
  const fx = new TcpFixture();
  fx.finWait1();
  fx.send({ payload: 'more' });
  assert.is(fx.data(), 'more');
  fx.expect([{ seq: L + 1, ack: R + 4, window: 65535 - 4 }]);
});

fw1('a FIN that also acknowledges ours leads straight to TIME-WAIT', () => {
  const fx = new TcpFixture();
  fx.finWait1();
  fx.send({ flags: FIN | ACK, ack: L + 1 });
  fx.expect([{ seq: L + 1, ack: R + 1, window: 65534 }]);
  fx.expectState(State.TimeWait);
  assert.equal(fx.events, ['end', 'close:closed']);
});

fw1('the FIN is retransmitted when its ACK does not come', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 200 } });
  fx.finWait1();
  fx.advance(200);
  fx.expect([{ flags: ACK | FIN }]);
  fx.advance(400);
  fx.expect([{ flags: ACK | FIN }]);
});

const closing = suite('CLOSING (simultaneous close)');

closing('crossing FINs: each side ACKs the other, CLOSING, then TIME-WAIT on the ACK of ours', () => {
  const fx = new TcpFixture();
  fx.finWait1();
  fx.send({ flags: FIN | ACK, ack: L });
  fx.expect([{ seq: L + 1, ack: R + 1, window: 65534 }]);
  fx.expectState(State.Closing);
  assert.equal(fx.events, ['end']);
  fx.send({ seq: R + 1, ack: L + 1 });
  fx.expectState(State.TimeWait);
  assert.equal(fx.events, ['end', 'close:closed']);
});

const fw2 = suite('FIN-WAIT-2');

fw2('the guest may keep sending for as long as it likes', () => {
  const fx = new TcpFixture();
  fx.finWait2();
  fx.send({ payload: 'one' }, 1000);
  fx.send({ seq: R + 3, payload: 'two' }, 100_000);
  assert.is(fx.data(), 'onetwo');
  fx.expectState(State.FinWait2);
});

fw2('the guest\'s FIN is acknowledged and ends in TIME-WAIT with onClose(closed)', () => {
  const fx = new TcpFixture();
  fx.finWait2();
  fx.send({ flags: FIN | ACK, ack: L + 1 });
  fx.expect([{ seq: L + 1, ack: R + 1, window: 65534 }]);
  fx.expectState(State.TimeWait);
  assert.equal(fx.events, ['end', 'close:closed']);
});

const tw = suite('TIME-WAIT');

tw('a retransmitted FIN is acknowledged again and restarts the wait', () => {
  const fx = new TcpFixture({ config: { timeWaitMs: 1000 } });
  fx.timeWait();
  fx.send({ flags: FIN | ACK, ack: L + 1 }, 800);
  fx.expect([{ seq: L + 1, ack: R + 1, window: 65534 }]);
  fx.advance(900);
  assert.ok(fx.ep.connections().length === 1, 'restarted at 800: still waiting at 1700');
  fx.advance(100);
  assert.is(fx.ep.connections().length, 0);
});

tw('the tuple is released after the configured wait, silently', () => {
  const fx = new TcpFixture({ config: { timeWaitMs: 500 } });
  fx.timeWait();
  fx.advance(499);
  assert.is(fx.ep.connections().length, 1);
  fx.advance(1);
  assert.is(fx.ep.connections().length, 0);
  fx.expectNothing();
  assert.equal(fx.events, [], 'onClose was already reported on entering TIME-WAIT');
  assert.equal(fx.ep.stats().byState, {});
});

tw('a new SYN with a higher sequence number reopens the tuple (RFC 6191)', () => {
  const fx = new TcpFixture();
  fx.timeWait();
  fx.send({ flags: SYN, seq: R + 100_000, ack: 0, mss: 1460 });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, ack: R + 100_001, mss: 1460 }]);
  assert.equal(fx.ep.stats().byState, { 'SYN-RECEIVED': 1 });
});

const cw = suite('CLOSE-WAIT');

cw('we can still send after the guest\'s FIN', () => {
  const fx = new TcpFixture();
  const c = fx.closeWait();
  c.send(Buffer.from('reply'), 0, 5);
  fx.ep.flush();
  fx.expect([{ flags: ACK | PSH, ack: R + 1, window: 65534, payload: 'reply' }]);
});

cw('data or FIN from the guest after its FIN is only acknowledged', () => {
  const fx = new TcpFixture();
  fx.closeWait();
  fx.send({ flags: FIN | ACK, payload: 'x' });
  fx.expect([{ ack: R + 1, window: 65534 }]);
  assert.is(fx.data(), '');
});

cw('shutdown sends our FIN and moves to LAST-ACK', () => {
  const fx = new TcpFixture();
  const c = fx.closeWait();
  c.shutdown();
  fx.expectState(State.LastAck);
  fx.ep.flush();
  fx.expect([{ flags: ACK | FIN, ack: R + 1, window: 65534 }]);
});

const la = suite('LAST-ACK');

la('the ACK of our FIN closes and releases the connection', () => {
  const fx = new TcpFixture();
  fx.lastAck();
  fx.send({ seq: R + 1, ack: L + 1 });
  fx.expectNothing();
  assert.equal(fx.events, ['close:closed']);
  assert.is(fx.ep.connections().length, 0);
  fx.send({ seq: R + 1, ack: L + 1 });
  fx.expect([{ flags: 0x04, seq: L + 1, ack: 0, window: 0 }], 'the tuple is unknown now: RST');
});

la('our FIN is retransmitted until acknowledged', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 300 } });
  fx.lastAck();
  fx.advance(300);
  fx.expect([{ flags: ACK | FIN, ack: R + 1, window: 65534 }]);
  fx.expectState(State.LastAck);
});

fw1.run();
const memory = suite('memory after the close');

memory('TIME-WAIT and CLOSED hold no send ring: it went back to the pool with the last ACK', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('bye'), 0, 3);
  fx.ep.flush();
  assert.ok(c.sendBuf.capacity > 0, 'data queued: a ring');
  c.shutdown();
  fx.ep.flush();
  fx.send({ flags: FIN | ACK, ack: L + 3 + 1 });
  fx.expectState(State.TimeWait);
  assert.is(c.sendBuf.capacity, 0, 'released on entering TIME-WAIT');
  assert.is(c.send(Buffer.from('x'), 0, 1), 0, 'and nothing can be queued again');
});

memory('an aborted connection gives its ring back at once', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('unsent'), 0, 6);
  c.abort();
  assert.is(c.sendBuf.capacity, 0);
  assert.is(c.unacknowledged, 0);
});

closing.run();
memory.run();
fw2.run();
tw.run();
cw.run();
la.run();
