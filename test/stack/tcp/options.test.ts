/** Option negotiation: MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK-permitted (RFC 2018), PAWS, MTU 65520. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LOCAL_SEQ, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, PSH, SYN } from '../../harness/tcp/segments.js';

const R = REMOTE_SEQ + 1;
const L = LOCAL_SEQ + 1;

const mss = suite('MSS');

mss('we never send more than the guest\'s MSS per segment', () => {
  const fx = new TcpFixture();
  const c = fx.established({ mss: 1000 });
  c.send(Buffer.alloc(2500, 1), 0, 2500);
  fx.ep.flush();
  assert.equal(fx.out.take().map((s) => s.payloadLen), [1000, 1000, 500]);
});

mss('without an MSS option (or with MSS 0) the guest gets 536-byte segments', () => {
  for (const m of [undefined, 0]) {
    const fx = new TcpFixture();
    const c = fx.established(m === undefined ? { mss: undefined } : { mss: m });
    c.send(Buffer.alloc(1000, 1), 0, 1000);
    fx.ep.flush();
    assert.equal(fx.out.take().map((s) => s.payloadLen), [536, 464]);
  }
});

mss('our MSS is the link MTU minus 40, up to 65480 at MTU 65520, and full segments use it', () => {
  const fx = new TcpFixture({ mtu: 65520 });
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 65480, windowScale: 7 });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 65480, windowScale: 7 }]);
  fx.send({ window: 65535 }); // 65535 << 7 = 8 MiB
  const c = fx.conn!;
  c.send(Buffer.alloc(200_000, 7), 0, 200_000);
  fx.ep.flush();
  assert.equal(fx.out.take().map((s) => s.payloadLen), [65480, 65480, 65480, 3560]);
});

const ws = suite('window scale');

ws('offered by the guest: we answer with shift 7 for a 4 MiB buffer and scale from then on', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460, windowScale: 3 });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460, windowScale: 7 }], 'the SYN-ACK window is not scaled');
  fx.send({ payload: 'x' });
  fx.expect([{ ack: R + 1, window: (4 * 1024 * 1024) / 128 }]);
});

ws('the guest\'s window field is scaled by its shift', () => {
  const fx = new TcpFixture();
  const c = fx.established({ windowScale: 2 }, { window: 100 });
  assert.is(c.sndWnd, 400);
  c.send(Buffer.alloc(1000, 1), 0, 1000);
  fx.ep.flush();
  assert.equal(fx.out.take().map((s) => s.payloadLen), [400]);
});

ws('not offered by the guest: no option in the SYN-ACK and a 64 KiB window at most', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460 });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }]);
  assert.equal([fx.ep.connections()[0]!.rcvShift, fx.ep.connections()[0]!.rcvCap], [0, 65535]);
});

ws('turned off in our config: the guest\'s offer is declined', () => {
  const fx = new TcpFixture({ config: { windowScaling: false } });
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460, windowScale: 5 });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }]);
});

const sack = suite('SACK-permitted');

sack('echoed only when the guest offers it', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460, sackPermitted: true });
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460, sackPermitted: true }]);
  const fx2 = new TcpFixture({ config: { sack: false } });
  fx2.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460, sackPermitted: true });
  fx2.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }]);
});

const ts = suite('timestamps');

ts('the SYN-ACK echoes the SYN\'s TSval; later segments echo the latest in-order TSval', () => {
  const fx = new TcpFixture();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460, ts: [1000, 0] }, 0);
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460, tsVal: 0, tsEcr: 1000 }]);
  fx.send({ ts: [1005, 0] }, 5);
  fx.send({ payload: 'a', ts: [1006, 0] }, 7);
  fx.expect([{ ack: R + 1, window: 65534, tsVal: 7, tsEcr: 1006 }]);
});

ts('timestamps take 12 bytes of every segment: 1448 bytes of payload at MSS 1460', () => {
  const fx = new TcpFixture();
  const c = fx.established({ ts: [1, 0] }, { ts: [2, 0] });
  c.send(Buffer.alloc(2000, 1), 0, 2000);
  fx.ep.flush();
  assert.equal(fx.out.take().map((s) => s.payloadLen), [1448, 552]);
});

ts('the RTT is measured from the echoed TSval (RFC 7323 §4)', () => {
  const fx = new TcpFixture();
  const c = fx.established({ ts: [1, 0] }, { ts: [2, 0] });
  const before = c.rtt.srtt;
  fx.at(10);
  c.send(Buffer.from('x'), 0, 1);
  fx.ep.flush();
  fx.out.take();
  fx.send({ ack: L + 1, ts: [3, 10] }, 30);
  assert.is(c.rtt.srtt, 0.875 * before + 0.125 * 20);
});

ts('PAWS: a segment with an older TSval is dropped and acknowledged (RFC 7323 §5)', () => {
  const fx = new TcpFixture();
  fx.established({ ts: [1000, 0] }, { ts: [1001, 0] });
  fx.send({ payload: 'old', ts: [900, 0] }, 50);
  fx.expect([{ tsVal: 50, tsEcr: 1001 }]);
  assert.is(fx.data(), '');
  fx.send({ payload: 'new', ts: [1002, 0] }, 60);
  assert.is(fx.data(), 'new');
});

ts('not offered by the guest: no timestamps anywhere', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('x'), 0, 1);
  fx.ep.flush();
  fx.expect([{ flags: ACK | PSH, payload: 'x' }]);
});

mss.run();
ws.run();
sack.run();
ts.run();
