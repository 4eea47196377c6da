/** RST in every state, RFC 5961 challenge ACKs (§3.2 RST, §4.2 SYN, §5.2 ACK) and their rate limit (§7), abort. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Connection } from '../../../src/stack/tcp/connection.js';
import { State } from '../../../src/stack/tcp/state.js';
import { LOCAL_SEQ, REMOTE_SEQ, TcpFixture } from '../../harness/tcp/fixture.js';
import { RST, SYN } from '../../harness/tcp/segments.js';

const R = REMOTE_SEQ + 1;
const L = LOCAL_SEQ + 1;

const everyState = suite('RST at RCV.NXT in every synchronized state');

const cases: Array<[string, (fx: TcpFixture) => Connection, number, string[]]> = [
  ['ESTABLISHED', (fx) => fx.established(), R, ['close:reset']],
  ['FIN-WAIT-1', (fx) => fx.finWait1(), R, ['close:reset']],
  ['FIN-WAIT-2', (fx) => fx.finWait2(), R, ['close:reset']],
  ['CLOSE-WAIT', (fx) => fx.closeWait(), R + 1, ['close:reset']],
  ['CLOSING', (fx) => fx.closing(), R + 1, ['close:reset']],
  ['LAST-ACK', (fx) => fx.lastAck(), R + 1, ['close:reset']],
  ['TIME-WAIT', (fx) => fx.timeWait(), R + 1, []],
];
for (const [name, make, seq, events] of cases) {
  everyState(`${name}: an RST with SEG.SEQ = RCV.NXT ends the connection`, () => {
    const fx = new TcpFixture();
    make(fx);
    fx.send({ flags: RST, seq, ack: 0 });
    fx.expectNothing('never answer an RST');
    assert.is(fx.ep.connections().length, 0);
    assert.equal(fx.events, events, name === 'TIME-WAIT' ? 'closed was already reported' : 'reported as reset');
    assert.is(fx.ep.stats().resetsReceived, 1);
  });
}

everyState('SYN-RECEIVED: an RST at RCV.NXT removes the half-open connection', () => {
  const fx = new TcpFixture({ listen: false });
  fx.ep.onSyn = (r) => void fx.adopt(r.accept()!);
  fx.synReceived();
  fx.send({ flags: RST, seq: R, ack: 0 });
  fx.expectNothing();
  assert.equal(fx.events, ['close:reset']);
});

const challenge = suite('RFC 5961 challenge ACKs');

challenge('an RST inside the window but not at RCV.NXT gets a challenge ACK and changes nothing (§3.2)', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ flags: RST, seq: R + 100, ack: 0 });
  fx.expect([{}]);
  fx.expectState(State.Established);
  assert.is(fx.ep.stats().challengeAcks, 1);
});

challenge('an RST outside the window is dropped silently', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ flags: RST, seq: R + 100_000, ack: 0 });
  fx.send({ flags: RST, seq: R - 1, ack: 0 });
  fx.expectNothing();
  fx.expectState(State.Established);
});

challenge('a SYN in ESTABLISHED gets a challenge ACK, whatever its sequence number (§4.2)', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ flags: SYN, seq: R + 5, ack: 0 });
  fx.expect([{}]);
  fx.send({ flags: SYN, seq: REMOTE_SEQ - 50_000, ack: 0 });
  fx.expect([{}], 'out-of-window SYN: the acceptability check answers with the same ACK');
  fx.expectState(State.Established);
});

challenge('an ACK older than SND.UNA - MAX.SND.WND is challenged and dropped (§5.2)', () => {
  const fx = new TcpFixture();
  fx.established();
  fx.send({ ack: L - 70_000, payload: 'evil' }); // MAX.SND.WND is the SYN's 65535
  fx.expect([{}]);
  assert.is(fx.data(), '');
  assert.is(fx.ep.stats().challengeAcks, 1);
});

challenge('challenge ACKs are rate limited per second (§7)', () => {
  const fx = new TcpFixture({ config: { challengeAckLimit: 2 } });
  fx.established();
  for (let i = 0; i < 5; i++) fx.send({ flags: RST, seq: R + 10 + i, ack: 0 });
  assert.is(fx.out.take().length, 2);
  assert.is(fx.ep.stats().challengeAcksLimited, 3);
  fx.send({ flags: RST, seq: R + 10, ack: 0 }, 1000);
  assert.is(fx.out.take().length, 1, 'a new second, a new allowance');
});

const abort = suite('abort');

abort('abort sends RST <SEQ=SND.NXT> and reports aborted', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.send(Buffer.from('data'), 0, 4);
  fx.ep.flush();
  fx.out.take();
  c.abort();
  fx.expect([{ flags: RST, seq: L + 4, ack: 0, window: 0 }]);
  assert.equal(fx.events, ['close:aborted']);
  assert.is(fx.ep.connections().length, 0);
});

abort('a silent abort sends nothing', () => {
  const fx = new TcpFixture();
  const c = fx.established();
  c.abort(true);
  fx.expectNothing();
  assert.equal(fx.events, ['close:aborted']);
});

abort('abortWhere tears down matching connections, onClose once each', () => {
  const fx = new TcpFixture();
  fx.established();
  assert.is(fx.ep.abortWhere((c) => c.remotePort === 1), 0);
  assert.is(fx.ep.abortWhere(() => true), 1);
  assert.equal(fx.events, ['close:aborted']);
  fx.expectNothing();
});

everyState.run();
challenge.run();
abort.run();
