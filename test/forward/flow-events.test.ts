/**
 * Flow events from the TCP and UDP forwarders, against real servers on 127.0.0.1:0: each flow
 * gives exactly one flow-open and one flow-close whose byte counts equal what crossed, failed
 * attempts give one close with `opened: false`, every close reason the forwarders can produce is
 * reached, and nothing is built while nobody listens.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { FlowEventHub, type FlowCloseEvent, type FlowEventSink, type FlowOpenEvent } from '../../src/forward/flow-events.js';
import type { Clock } from '../../src/runtime/clock.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { CapturePort } from '../harness/capture-port.js';
import { udpPacket } from '../harness/frames.js';
import { GUEST, GuestPair, HOST_ALIAS, until } from '../harness/tcp/guest-pair.js';

/** A hub recording what it emits. */
function recorder(clock: Clock, listening = true) {
  const opens: FlowOpenEvent[] = [];
  const closes: FlowCloseEvent[] = [];
  const hub = new FlowEventHub({ clock, listening: () => listening, onOpen: (e) => opens.push(e), onClose: (e) => closes.push(e) });
  return { hub, opens, closes };
}

/** A sink that fails the test if anything is reported while it is disabled. */
const mute: FlowEventSink = {
  enabled: false,
  open: () => assert.unreachable('open while nobody listens') as never,
  close: () => assert.unreachable('close while nobody listens'),
  reject: () => assert.unreachable('reject while nobody listens'),
};

const servers: Array<{ server: Server; sockets: Socket[] }> = [];
async function listen(onConn: (s: Socket) => void = () => {}): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    onConn(s);
  });
  servers.push({ server, sockets });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}
async function closeServers(): Promise<void> {
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
}
/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const p = await listen();
  await closeServers();
  return p;
}

const tcp = suite('TCP');
tcp.after.each(closeServers);

tcp('one connection: exactly one open and one close, with the bytes each way and the duration', async () => {
  const UP = 100_000;
  const DOWN = 54_321;
  let hostGot = 0;
  const port = await listen((s) => {
    s.on('data', (b) => (hostGot += b.length));
    s.on('end', () => s.end(Buffer.alloc(DOWN, 7)));
  });
  const pair = new GuestPair();
  const rec = recorder(pair.sched.clock);
  pair.outbound.flowEvents = rec.hub;
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  assert.is(rec.opens.length, 1);
  pair.sched.advance(1500);
  g.sendAll(Buffer.alloc(UP, 1), true);
  await until(() => g.closed !== undefined && rec.closes.length > 0, 'closed');
  const open = rec.opens[0]!;
  assert.equal(open, {
    id: 1,
    protocol: 'tcp',
    guest: { ip: '192.168.65.2', port: g.conn.localPort },
    remote: { ip: '192.168.65.254', port },
    host: { ip: '127.0.0.1', port },
  });
  assert.equal(rec.closes, [{ ...open, opened: true, bytesToGuest: DOWN, bytesFromGuest: UP, durationMs: 1500, closeReason: 'closed' }]);
  assert.is(hostGot, UP);
  assert.is(g.received.length, DOWN);
});

tcp('a refused port, a denied destination and a full table each give one close alone', async () => {
  const dead = await deadPort();
  const pair = new GuestPair({ outbound: { egressPolicy: (ip) => ip === 0x7f000001, maxFlows: 1 } });
  const rec = recorder(pair.sched.clock);
  pair.outbound.flowEvents = rec.hub;
  const refused = pair.connect(dead);
  await until(() => refused.closed !== undefined, 'refused');
  const denied = pair.connect(80, 0x0a000001);
  await until(() => denied.closed !== undefined, 'denied');
  const port = await listen();
  const first = pair.connect(port);
  await until(() => first.established, 'first');
  const over = pair.connect(port);
  await until(() => over.closed !== undefined, 'over the limit');
  assert.is(rec.opens.length, 1, 'only the accepted flow opened');
  assert.equal(
    rec.closes.map((c) => [c.opened, c.closeReason, c.remote.ip, c.host.ip]),
    [
      [false, 'refused', '192.168.65.254', '127.0.0.1'],
      [false, 'denied', '10.0.0.1', '10.0.0.1'],
      [false, 'limit', '192.168.65.254', '127.0.0.1'],
    ],
  );
  first.conn.abort();
  await until(() => rec.closes.length === 4, 'first closed');
  assert.is(rec.closes[3]!.closeReason, 'reset');
});

tcp('a host reset, a vanished guest and a shutdown are reported as reset, nic-gone and shutdown', async () => {
  const hostSockets: Socket[] = [];
  const port = await listen((s) => hostSockets.push(s));
  const pair = new GuestPair();
  const rec = recorder(pair.sched.clock);
  pair.outbound.flowEvents = rec.hub;
  const a = pair.connect(port);
  const b = pair.connect(port, HOST_ALIAS, GUEST + 1);
  const c = pair.connect(port, HOST_ALIAS, GUEST + 2);
  await until(() => a.established && b.established && c.established && hostSockets.length === 3, 'three flows');
  // Reset the host side of the guest-1 flow: the server socket whose peer is that flow's host socket.
  const flowA = (pair.gatewaySide(a)!.user as { socket: Socket }).socket;
  hostSockets.find((s) => s.remotePort === flowA.localPort)!.resetAndDestroy();
  await until(() => a.closed !== undefined, 'guest 1 reset');
  pair.outbound.closeForGuest(GUEST + 1);
  pair.outbound.close();
  await until(() => rec.closes.length === 3, 'three closes');
  assert.equal(
    rec.closes.map((e) => [e.guest.ip, e.closeReason]),
    [
      ['192.168.65.2', 'reset'],
      ['192.168.65.3', 'nic-gone'],
      ['192.168.65.4', 'shutdown'],
    ],
  );
  assert.is(new Set(rec.closes.map((e) => e.id)).size, 3);
  b.conn.abort(true);
  c.conn.abort(true);
});

tcp('a connect still pending at close() is reported as shutdown, once', async () => {
  const never = (() => new Socket()) as never;
  const pair = new GuestPair({ outbound: { connect: never } });
  const rec = recorder(pair.sched.clock);
  pair.outbound.flowEvents = rec.hub;
  pair.connect(81);
  await until(() => pair.outbound.stats().pending === 1, 'pending');
  pair.outbound.close();
  pair.sched.advance(20_000); // the connect timer was disarmed: no late timeout
  assert.equal(
    rec.closes.map((e) => [e.opened, e.closeReason]),
    [[false, 'shutdown']],
  );
  assert.is(pair.outbound.stats().pending, 0);
  assert.is(pair.outbound.stats().timedOut, 0);
});

tcp('nothing is reported, or built, while nobody listens; a flow opened unheard is never closed heard', async () => {
  const port = await listen((s) => s.resume().on('end', () => s.end('bye')));
  const pair = new GuestPair();
  pair.outbound.flowEvents = mute;
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  const rec = recorder(pair.sched.clock);
  pair.outbound.flowEvents = rec.hub;
  g.sendAll(Buffer.from('hi'), true);
  await until(() => g.closed !== undefined, 'closed');
  await until(() => pair.outbound.stats().open === 0, 'freed');
  assert.equal([rec.opens.length, rec.closes.length], [0, 0]);
});

const udp = suite('UDP');

async function udpSetup(allow = ['127.0.0.0/8']) {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ allow, runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(1) } })._unsafeUnwrap();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  const rec = recorder(scheduler.clock);
  net.udpNat.flowEvents = rec.hub;
  const echo = createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  const send = (sport: number, dst: string, dport: number, data: string): void => {
    const f = udpPacket('f6:16:36:bc:f9:c6', '02:00:00:00:00:10', '192.168.65.10', sport, dst, dport, Buffer.from(data));
    net.switch.input(nic, f, 0, f.length);
  };
  return { scheduler, net, nic, rec, echo, port: echo.address().port, send };
}
const closeUdp = (s: UdpSocket) => new Promise<void>((r) => s.close(() => r()));

udp('one flow: open at the first datagram, close at expiry with the bytes each way', async () => {
  const t = await udpSetup();
  t.send(41000, '192.168.65.254', t.port, 'abc');
  t.send(41000, '192.168.65.254', t.port, 'defgh');
  await until(() => t.nic.frames.length === 2, 'two answers');
  t.scheduler.advance(60_000);
  assert.equal(t.rec.opens, [{ id: 1, protocol: 'udp', guest: { ip: '192.168.65.10', port: 41000 }, remote: { ip: '192.168.65.254', port: t.port }, host: { ip: '127.0.0.1', port: t.port } }]);
  assert.equal(t.rec.closes, [{ ...t.rec.opens[0]!, opened: true, bytesToGuest: 8 + 10, bytesFromGuest: 8, durationMs: 60_000, closeReason: 'idle' }]);
  await closeUdp(t.echo);
  await t.net.close();
});

udp('a denied datagram gives one close alone; NIC loss and shutdown close the rest', async () => {
  const t = await udpSetup(['127.0.0.0/8']);
  t.send(41001, '10.9.9.9', 53, 'q');
  t.send(41002, '192.168.65.254', t.port, 'x');
  t.send(41003, '192.168.65.254', t.port, 'y');
  await until(() => t.nic.frames.length === 3, 'admin-prohibited and two answers');
  t.net.udpNat.closeForGuest(0xc0a8410a);
  assert.equal(
    t.rec.closes.map((c) => [c.opened, c.closeReason, c.guest.port]),
    [
      [false, 'denied', 41001],
      [true, 'nic-gone', 41002],
      [true, 'nic-gone', 41003],
    ],
  );
  t.send(41004, '192.168.65.254', t.port, 'z');
  await t.net.close();
  assert.is(t.rec.closes.at(-1)!.closeReason, 'shutdown');
  await closeUdp(t.echo);
});

udp('a flow refused for an unroutable destination (127.0.0.1 named by the guest) reports that address as its host side', async () => {
  const sched = new ManualScheduler();
  const net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) } })._unsafeUnwrap();
  const closes: FlowCloseEvent[] = [];
  net.on('flow-close', (e) => closes.push(e));
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  const f = udpPacket('f6:16:36:bc:f9:c6', '02:00:00:00:00:10', '192.168.65.10', 5000, '127.0.0.1', 9, Buffer.from('x'));
  net.switch.input(nic, f, 0, f.length);
  assert.is(closes.length, 1);
  assert.equal([closes[0]!.closeReason, closes[0]!.remote.ip, closes[0]!.host.ip], ['denied', '127.0.0.1', '127.0.0.1']);
  await net.close();
});

tcp.run();
udp.run();
