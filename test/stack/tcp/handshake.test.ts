/** SYN-RECEIVED (passive open) and SYN-SENT (active open, simultaneous open): RFC 9293 §3.5, §3.10.7.3. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { State } from '../../../src/stack/tcp/state.js';
import { GUEST_IP, GUEST_PORT, LOCAL_SEQ, REMOTE_IP, REMOTE_PORT, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { ACK, FIN, RST, SYN } from '../../harness/tcp/segments.js';

const synRcvd = suite('SYN-RECEIVED');

/** A fixture whose SYN hook accepts at once and records everything (so failures before ESTABLISHED show). */
function accepting(config = {}): TcpFixture {
  const fx = new TcpFixture({ listen: false, config });
  fx.ep.onSyn = (r) => {
    const c = r.accept();
    if (c !== undefined) fx.adopt(c);
  };
  return fx;
}

synRcvd('the ACK of our SYN-ACK establishes the connection', () => {
  const fx = accepting();
  fx.synReceived();
  fx.expectState(State.SynReceived);
  fx.send({}, 5);
  fx.expectNothing('a bare ACK needs no answer');
  fx.expectState(State.Established);
  assert.equal(fx.events, ['established']);
});

synRcvd('data on the handshake-completing ACK is delivered', () => {
  const fx = accepting();
  fx.synReceived();
  fx.send({ payload: 'GET / HTTP/1.1\r\n' });
  assert.is(fx.data(), 'GET / HTTP/1.1\r\n');
  fx.expect([{ ack: REMOTE_SEQ + 17, window: 65535 - 16 }]);
});

synRcvd('a retransmitted SYN means our SYN-ACK was lost: it is sent again', () => {
  const fx = accepting();
  fx.synReceived();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460 }, 300);
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }]);
  fx.expectState(State.SynReceived);
});

synRcvd('the SYN-ACK is retransmitted with exponential backoff, then the connection times out', () => {
  const fx = accepting({ synRetries: 2 });
  fx.synReceived();
  fx.advance(999);
  fx.expectNothing();
  fx.advance(1);
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }], 'at 1 s (RFC 6298 §2.1)');
  fx.advance(2000);
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, mss: 1460 }], 'at 3 s (backed off)');
  fx.advance(4000);
  fx.expectNothing();
  assert.equal(fx.events, ['close:timeout']);
  assert.is(fx.ep.connections().length, 0);
});

synRcvd('an ACK that does not acknowledge our SYN is answered with RST <SEQ=SEG.ACK>', () => {
  const fx = accepting();
  fx.synReceived();
  fx.send({ ack: LOCAL_SEQ + 5 });
  fx.expect([{ flags: RST, seq: LOCAL_SEQ + 5, ack: 0, window: 0 }]);
  fx.expectState(State.SynReceived);
});

synRcvd('a shutdown before the handshake ends sends FIN right after it', () => {
  const fx = accepting();
  fx.synReceived();
  fx.conn!.shutdown();
  fx.ep.flush();
  fx.expectNothing('the FIN waits for ESTABLISHED (RFC 9293 §3.10.4)');
  fx.send({});
  fx.expect([{ flags: FIN | ACK }]);
  fx.expectState(State.FinWait1);
});

const synSent = suite('SYN-SENT (active open)');

synSent('connect sends a SYN offering MSS, SACK, timestamps and window scale', () => {
  const fx = new TcpFixture();
  const r = fx.ep.connect({ localIp: REMOTE_IP, localPort: REMOTE_PORT, remoteIp: GUEST_IP, remotePort: GUEST_PORT });
  assert.ok(r.isOk());
  fx.ep.flush();
  fx.expect([{ flags: SYN, seq: LOCAL_SEQ, ack: 0, mss: 1460, sackPermitted: true, tsVal: 0, tsEcr: 0, windowScale: 7 }]);
});

synSent('a SYN-ACK establishes the connection, negotiates options and is ACKed', () => {
  const fx = new TcpFixture();
  fx.synSent();
  fx.send({ flags: SYN | ACK, seq: REMOTE_SEQ, ack: LOCAL_SEQ + 1, mss: 1000, windowScale: 2, window: 1000 }, 10);
  fx.expect([{ ack: REMOTE_SEQ + 1, window: 32768 }], 'window: 4 MiB >> 7');
  fx.expectState(State.Established);
  const c = fx.conn!;
  assert.equal([c.sndMss, c.sndShift, c.rcvShift, c.tsOn, c.sackOn], [1000, 2, 7, false, false]);
  assert.is(c.sndWnd, 1000, 'the SYN-ACK window is not scaled');
  assert.equal(fx.events, ['established']);
});

synSent('without window scale in the SYN-ACK neither side scales', () => {
  const fx = new TcpFixture();
  fx.synSent();
  fx.send({ flags: SYN | ACK, seq: REMOTE_SEQ, ack: LOCAL_SEQ + 1 });
  fx.expect([{ ack: REMOTE_SEQ + 1, window: 65535 }]);
  assert.equal([fx.conn!.rcvShift, fx.conn!.sndShift], [0, 0]);
});

synSent('the SYN is retransmitted with backoff and the open times out after synRetries', () => {
  const fx = new TcpFixture({ config: { synRetries: 1 } });
  fx.synSent();
  fx.advance(1000);
  assert.is(fx.out.take().length, 1);
  fx.advance(2000);
  fx.expectNothing();
  assert.equal(fx.events, ['close:timeout']);
});

synSent('RST,ACK acknowledging our SYN means refused', () => {
  const fx = new TcpFixture();
  fx.synSent();
  fx.send({ flags: RST | ACK, seq: 0, ack: LOCAL_SEQ + 1 });
  fx.expectNothing();
  assert.equal(fx.events, ['close:refused']);
});

synSent('an RST without ACK, or with a wrong ACK, is ignored', () => {
  const fx = new TcpFixture();
  fx.synSent();
  fx.send({ flags: RST, seq: 0, ack: 0 });
  fx.send({ flags: RST | ACK, seq: 0, ack: LOCAL_SEQ + 9 });
  fx.expectNothing();
  fx.expectState(State.SynSent);
});

synSent('an ACK of something other than our SYN gets RST <SEQ=SEG.ACK>', () => {
  const fx = new TcpFixture();
  fx.synSent();
  fx.send({ flags: SYN | ACK, seq: REMOTE_SEQ, ack: LOCAL_SEQ + 100 });
  fx.expect([{ flags: RST, seq: LOCAL_SEQ + 100, ack: 0, window: 0 }]);
  fx.expectState(State.SynSent);
});

synSent('simultaneous open: a bare SYN moves to SYN-RECEIVED with SYN-ACK <SEQ=ISS>, then ESTABLISHED', () => {
  const fx = new TcpFixture();
  fx.synSent();
  fx.send({ flags: SYN, seq: REMOTE_SEQ, ack: 0, mss: 1460 });
  fx.expectState(State.SynReceived);
  fx.expect([{ flags: SYN | ACK, seq: LOCAL_SEQ, ack: REMOTE_SEQ + 1, mss: 1460 }]);
  fx.send({ flags: SYN | ACK, seq: REMOTE_SEQ, ack: LOCAL_SEQ + 1 });
  fx.expect([{}], 'its SYN-ACK acknowledges our SYN: we ACK it');
  fx.expectState(State.Established);
  assert.equal(fx.events, ['established']);
});

synSent('data queued before the handshake goes out once established', () => {
  const fx = new TcpFixture();
  const c = fx.synSent();
  assert.is(c.send(Buffer.from('early'), 0, 5), 5);
  fx.ep.flush();
  fx.expectNothing();
  fx.send({ flags: SYN | ACK, seq: REMOTE_SEQ, ack: LOCAL_SEQ + 1 });
  fx.expect([{ flags: ACK | 0x08, payload: 'early' }]);
});

synSent('connect picks a free ephemeral port and refuses a tuple in use', () => {
  const fx = new TcpFixture();
  const a = fx.ep.connect({ localIp: REMOTE_IP, remoteIp: GUEST_IP, remotePort: 22 });
  assert.ok(a.isOk());
  const p = a._unsafeUnwrap().localPort;
  assert.ok(p >= 49152 && p <= 65535);
  const b = fx.ep.connect({ localIp: REMOTE_IP, localPort: p, remoteIp: GUEST_IP, remotePort: 22 });
  assert.ok(b.isErr());
  assert.is(b._unsafeUnwrapErr().kind, 'address-in-use');
});

synRcvd.run();
synSent.run();
