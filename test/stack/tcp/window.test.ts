/** Flow control: zero-window probing (RFC 9293 §3.8.6.1), receive backlog and window updates, SWS avoidance (§3.8.6.2). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { State } from '../../../src/stack/tcp/state.js';
import { LOCAL_SEQ, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, PSH } from '../../harness/tcp/segments.js';

const R = REMOTE_SEQ + 1;
const L = LOCAL_SEQ + 1;

const zero = suite('their zero window');

zero('a zero window holds data back; the persist timer probes with one byte, backing off; the opening sends all', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 200 } });
  const c = fx.established({}, { window: 0 });
  c.send(Buffer.from('hello'), 0, 5);
  fx.ep.flush();
  fx.expectNothing();
  fx.advance(200);
  fx.expect([{ payload: 'h' }], 'one octet of new data (RFC 9293 §3.8.6.1)');
  fx.send({ ack: L, window: 0 }, 201);
  fx.expectNothing();
  fx.advance(398);
  fx.expectNothing();
  fx.advance(1);
  fx.expect([{ payload: 'h' }], 'backed off: 400 ms after the first probe');
  fx.send({ ack: L, window: 1000 }, 700);
  fx.expect([{ flags: ACK | PSH, payload: 'hello' }], 'the probe byte, probably dropped, is resent in order');
  assert.is(fx.ep.stats().zeroWindowProbes, 2);
});

zero('a probe byte the peer accepted is not sent again', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 200 } });
  const c = fx.established({}, { window: 0 });
  c.send(Buffer.from('hello'), 0, 5);
  fx.ep.flush();
  fx.advance(200);
  fx.out.take();
  fx.send({ ack: L + 1, window: 1000 }, 210);
  fx.expect([{ seq: L + 1, flags: ACK | PSH, payload: 'ello' }]);
});

zero('probing goes on as long as the peer answers, beyond maxRetransmits', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 200, maxRtoMs: 1000, maxRetransmits: 2 } });
  const c = fx.established({}, { window: 0 });
  c.send(Buffer.from('x'), 0, 1);
  fx.ep.flush();
  for (let i = 0; i < 6; i++) {
    fx.advance(1000);
    assert.ok(fx.out.take().length >= 1, `probe ${i}`);
    fx.send({ ack: L, window: 0 });
  }
  fx.expectState(State.Established);
});

zero('unanswered probes end the connection with timeout', () => {
  const fx = new TcpFixture({ config: { minRtoMs: 200, maxRtoMs: 1000, maxRetransmits: 2 } });
  const c = fx.established({}, { window: 0 });
  c.send(Buffer.from('x'), 0, 1);
  fx.ep.flush();
  fx.advance(10_000);
  assert.equal(fx.events, ['close:timeout']);
});

const ours = suite('our window and the receive backlog');

/** A consumer that holds everything it receives until told to release it. */
function holding(receiveBuffer: number): { fx: TcpFixture; release: (n: number) => void } {
  const fx = new TcpFixture({ config: { receiveBuffer } });
  const c = fx.established();
  let held = 0;
  const record = c.onData!;
  c.onData = (b, off, len) => {
    record(b, off, len);
    held += len;
    c.setReceiveBacklog(held);
  };
  return {
    fx,
    release: (n) => {
      held -= n;
      c.setReceiveBacklog(held);
    },
  };
}

ours('data the consumer still holds shrinks the window to zero; draining sends a window update', () => {
  const { fx, release } = holding(4096);
  fx.send({ payload: 'a'.repeat(3000) });
  fx.expect([{ ack: R + 3000, window: 1096 }]);
  fx.send({ seq: R + 3000, payload: 'b'.repeat(1096) });
  fx.expect([{ ack: R + 4096, window: 0 }]);
  release(4096);
  fx.ep.flush();
  fx.expect([{ ack: R + 4096, window: 4096 }], 'window update (RFC 9293 §3.8.6.2.2)');
});

ours('small drains do not reopen a closed window (receiver SWS avoidance)', () => {
  const { fx, release } = holding(4096);
  fx.send({ payload: 'a'.repeat(4096) });
  fx.out.take();
  release(100);
  fx.ep.flush();
  fx.expectNothing();
  fx.send({ seq: R + 4096, payload: 'z' });
  fx.expect([{ ack: R + 4096, window: 0 }], 'still closed: the byte is not accepted');
  release(2000);
  fx.ep.flush();
  fx.expect([{ ack: R + 4096, window: 2100 }]);
});

ours('a zero-window probe from the guest is acknowledged and not delivered, and its ACK is processed', () => {
  const { fx } = holding(1024);
  const c = fx.conn!;
  c.send(Buffer.from('ours'), 0, 4);
  fx.ep.flush();
  fx.send({ payload: 'x'.repeat(1024), ack: L });
  fx.out.take();
  fx.send({ seq: R + 1024, ack: L + 4, payload: 'y' });
  fx.expect([{ seq: L + 4, ack: R + 1024, window: 0 }]);
  assert.is(fx.data().length, 1024);
  assert.is(c.unacknowledged, 0, 'the ACK field of the probe was used (RFC 9293 §3.10.7.4)');
});

ours('the window never shrinks: a bigger backlog report only stops the edge from moving', () => {
  const { fx } = holding(4096);
  fx.send({ payload: 'a'.repeat(1000) });
  fx.expect([{ ack: R + 1000, window: 3096 }]);
  fx.conn!.setReceiveBacklog(4000);
  fx.send({ seq: R + 1000, payload: 'b'.repeat(10) });
  fx.expect([{ ack: R + 1010, window: 3086 }], 'right edge kept at R + 4096');
});

zero.run();
ours.run();
