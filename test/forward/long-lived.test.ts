/**
 * Long-lived TCP flows through the outbound forwarder (user-needs row 12), on the injected clock:
 * hours of ManualScheduler time pass in a fraction of a second while the host socket is a real
 * 127.0.0.1 connection. Nothing reaps an idle ESTABLISHED flow by default; guest keepalive probes
 * (bare ACKs with SEQ = SND.NXT-1, RFC 9293 §3.8.4) are answered; the optional idle timeout cuts
 * a silent flow with RST both ways, and counts keepalives and data as activity.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FlowEventHub, type FlowCloseEvent } from '../../src/forward/flow-events.js';
import { State } from '../../src/stack/tcp/state.js';
import { GuestPair, until, type GuestConn, type PairOptions } from '../harness/tcp/guest-pair.js';

const HOUR = 3_600_000;
const KEEPALIVE = { idleMs: 75_000, intervalMs: 15_000, probes: 3 };

interface Rig {
  pair: GuestPair;
  g: GuestConn;
  closes: FlowCloseEvent[];
  host: { socket: Socket | undefined; got: string; error: string; closed: boolean };
  server: Server;
}

/** An echo server on 127.0.0.1 and one established guest connection to it through the alias. */
async function rig(o: PairOptions = {}): Promise<Rig> {
  const host: Rig['host'] = { socket: undefined, got: '', error: '', closed: false };
  const server = createServer((s) => {
    host.socket = s;
    s.on('data', (b) => {
      host.got += b.toString();
      s.write(b);
    });
    s.on('error', (e: NodeJS.ErrnoException) => (host.error = e.code ?? 'error'));
    s.on('close', () => (host.closed = true));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pair = new GuestPair(o);
  const closes: FlowCloseEvent[] = [];
  pair.outbound.flowEvents = new FlowEventHub({ clock: pair.sched.clock, listening: () => true, onOpen: () => {}, onClose: (e) => closes.push(e) });
  const g = pair.connect((server.address() as AddressInfo).port);
  // Both ends: the gateway's side leaves SYN-RECEIVED only when the guest's ACK crossed the link.
  await until(() => g.established && pair.gatewaySide(g)?.state === State.Established && host.socket !== undefined, 'established');
  return { pair, g, closes, host, server };
}

/** Says `text` and waits for the echo. */
async function roundTrip(r: Rig, text: string): Promise<void> {
  const before = r.g.received.length;
  r.g.conn.send(Buffer.from(text), 0, text.length);
  await until(() => r.g.received.length >= before + text.length, `echo of ${text}`);
  assert.is(r.g.received.subarray(before).toString(), text);
  // Let the guest's ACK of the echo cross the link before a test moves the clock: a jump of
  // minutes with a segment unacknowledged would only test retransmission.
  await until(() => r.pair.gatewaySide(r.g)!.unacknowledged === 0, 'echo acknowledged');
}

/** Lets `ms` of clock time pass in `step`s, giving the link and the sockets a few turns after each. */
async function idle(r: Rig, ms: number, step = 15_000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    r.pair.sched.advance(Math.min(step, ms - t));
    for (let i = 0; i < 4; i++) await new Promise((res) => setImmediate(res));
  }
}

async function teardown(r: Rig): Promise<void> {
  r.g.conn.abort();
  r.host.socket?.destroy();
  await new Promise((res) => r.server.close(res));
}

/** Segments the gateway sent that acknowledge a keepalive: bare ACKs with no payload. */
const bareAcksToGuest = (p: GuestPair): number => p.log.filter((l) => l.dir === 'to-guest' && l.flags === '.' && l.len === 0).length;

const byDefault = suite('no idle timeout (the default)');

byDefault('an idle flow survives 3 h of clock time without keepalives and still carries data both ways', async () => {
  const r = await rig();
  await roundTrip(r, 'before');
  const segmentsBefore = r.pair.log.length;
  await idle(r, 3 * HOUR, HOUR / 4);
  assert.is(r.pair.log.length, segmentsBefore, 'nothing at all crossed while idle');
  assert.is(r.pair.gatewaySide(r.g)!.state, State.Established);
  assert.is(r.pair.outbound.stats().open, 1);
  await roundTrip(r, 'after three hours');
  assert.is(r.host.got, 'beforeafter three hours');
  assert.equal(r.closes, []);
  await teardown(r);
});

byDefault('guest keepalive probes are answered: the guest keeps the connection for 3 h and the flow stays', async () => {
  const r = await rig({ guestConfig: { keepalive: KEEPALIVE } });
  await roundTrip(r, 'x');
  const acksBefore = bareAcksToGuest(r.pair);
  await idle(r, 3 * HOUR);
  const probes = r.pair.guest.stats().keepaliveProbes;
  // One probe per 75 s of silence; each answer restarts the guest's idle time (RFC 1122 §4.2.3.6).
  assert.ok(probes >= 140, `the guest probed (${probes})`);
  assert.ok(bareAcksToGuest(r.pair) - acksBefore >= probes, 'every probe got an ACK');
  assert.is(r.g.closed, undefined, 'the guest never gave up (3 unanswered probes would end it)');
  assert.is(r.pair.outbound.stats().open, 1);
  assert.not.ok(r.host.closed);
  await roundTrip(r, 'y');
  await teardown(r);
});

const optIn = suite('tcpIdleTimeoutMs');

optIn('a silent flow is cut after the timeout: RST to the guest and the host, reported as idle', async () => {
  const r = await rig({ outbound: { idleTimeoutMs: 300_000 } });
  await roundTrip(r, 'hello');
  r.pair.sched.advance(299_000);
  await idle(r, 0);
  assert.is(r.g.closed, undefined, 'not before the timeout');
  r.pair.sched.advance(2_000);
  await until(() => r.g.closed !== undefined && r.host.closed, 'both sides closed');
  assert.is(r.g.closed, 'reset');
  assert.is(r.host.error, 'ECONNRESET', 'the host application sees a reset, not a clean end');
  assert.is(r.pair.outbound.stats().idleClosed, 1);
  assert.equal(
    r.closes.map((c) => [c.closeReason, c.bytesFromGuest, c.bytesToGuest]),
    [['idle', 5, 5]],
  );
  await teardown(r);
});

optIn('guest keepalives count as activity: with a 300 s timeout the flow lives 3 h', async () => {
  const r = await rig({ outbound: { idleTimeoutMs: 300_000 }, guestConfig: { keepalive: KEEPALIVE } });
  await idle(r, 3 * HOUR);
  assert.is(r.g.closed, undefined);
  assert.is(r.pair.outbound.stats().idleClosed, 0);
  await roundTrip(r, 'alive');
  await teardown(r);
});

optIn('data keeps a flow alive; once it stops, the flow goes after the timeout', async () => {
  const r = await rig({ outbound: { idleTimeoutMs: 300_000 } });
  for (let i = 0; i < 18; i++) {
    await idle(r, 200_000, 50_000);
    await roundTrip(r, `tick${i}`);
  }
  assert.is(r.g.closed, undefined, 'an hour of a message every 200 s');
  await idle(r, 301_000, 50_000);
  await until(() => r.g.closed !== undefined, 'cut');
  assert.is(r.closes[0]!.closeReason, 'idle');
  await teardown(r);
});

optIn('setIdleTimeout applies to flows already open, and 0 turns it off again', async () => {
  const r = await rig();
  r.pair.outbound.setIdleTimeout(60_000);
  assert.is(r.pair.outbound.idleTimeoutMs, 60_000);
  r.pair.outbound.setIdleTimeout(0);
  await idle(r, HOUR, HOUR / 4);
  assert.is(r.g.closed, undefined, 'off again');
  r.pair.outbound.setIdleTimeout(60_000);
  await idle(r, 61_000);
  await until(() => r.g.closed !== undefined, 'cut by the timeout set later');
  assert.is(r.closes[0]!.closeReason, 'idle');
  await teardown(r);
});

byDefault('host sockets get kernel keepalive after 60 s idle by default; hostKeepaliveMs 0 turns it off', async () => {
  const net = await import('node:net');
  const seen: Array<Record<string, unknown>> = [];
  const spy = ((o: Record<string, unknown>) => {
    seen.push(o);
    return net.connect(o as never);
  }) as unknown as typeof net.connect;
  for (const hostKeepaliveMs of [undefined, 0]) {
    const r = await rig({ outbound: { connect: spy, ...(hostKeepaliveMs !== undefined ? { hostKeepaliveMs } : {}) } });
    await teardown(r);
  }
  assert.equal(
    seen.map((o) => [o['keepAlive'], o['keepAliveInitialDelay']]),
    [
      [true, 60_000],
      [undefined, undefined],
    ],
  );
});

byDefault.run();
optIn.run();
