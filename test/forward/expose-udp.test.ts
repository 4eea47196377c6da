/**
 * Exposed UDP ports: real host UDP clients on 127.0.0.1 and ::1, a scripted guest behind a fake
 * gateway UDP layer (bind/send as the real `UdpLayer` does them). One source per client (the
 * alias with the client's port, or the gateway and an ephemeral port), replies to the right
 * client, idle expiry on a ManualScheduler, datagrams held while the guest's MAC is unresolved,
 * foreign replies handed to the fallback, unexpose frees everything.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { PortForwarder, type PortForwarderOptions } from '../../src/forward/port-forwarder.js';
import type { Logger } from '../../src/logger.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import type { UdpHandler } from '../../src/stack/udp.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { Drop, type DropCode } from '../../src/wire/drop.js';
import { FrameInfo } from '../../src/wire/frame-info.js';
import { until } from '../harness/tcp/guest-pair.js';

const GATEWAY = parseIpv4('192.168.65.1')!;
const GUEST = parseIpv4('192.168.65.2')!;
const ALIAS = parseIpv4('192.168.65.254')!;

interface Sent {
  src: number;
  sport: number;
  dst: number;
  dport: number;
  text: string;
}

/** The gateway's UDP layer with a guest behind it: `app` answers what the guest receives. */
class FakeUdp {
  readonly bound = new Map<string, UdpHandler>();
  readonly sent: Sent[] = [];
  resolved = true;
  /** What the real layer's fallback (the outbound NAT) got. */
  readonly toFallback: string[] = [];
  fallback: UdpHandler | undefined = (info) => void this.toFallback.push(`${info.srcIp}:${info.srcPort}>${info.dstIp}:${info.dstPort}`);
  constructor(public app: (d: Sent, reply: (text: string, fromPort?: number) => void) => void = () => {}) {}
  bind(ip: number, port: number, h: UdpHandler): () => void {
    const k = `${ip}:${port}`;
    this.bound.set(k, h);
    return () => {
      if (this.bound.get(k) === h) this.bound.delete(k);
    };
  }
  send(src: number, sport: number, dst: number, dport: number, data: Uint8Array): DropCode {
    if (!this.resolved) return Drop.NotForUs;
    const d = { src, sport, dst, dport, text: Buffer.from(data).toString() };
    this.sent.push(d);
    setImmediate(() => this.app(d, (text, fromPort = dport) => this.guestSends(fromPort, src, sport, text)));
    return Drop.None;
  }
  /** The guest sends a datagram from fromIp:fromPort (default GUEST) to the gateway. */
  guestSends(fromPort: number, toIp: number, toPort: number, text: string, fromIp = GUEST): void {
    const info = new FrameInfo();
    const payload = Buffer.from(text);
    info.buf = Buffer.concat([Buffer.alloc(42), payload]);
    info.payload = 42;
    info.payloadLen = payload.length;
    info.srcIp = fromIp;
    info.srcPort = fromPort;
    info.dstIp = toIp;
    info.dstPort = toPort;
    this.bound.get(`${toIp}:${toPort}`)?.(info);
  }
}

function fixture(app?: ConstructorParameters<typeof FakeUdp>[0], o: Partial<PortForwarderOptions> = {}) {
  const sched = new ManualScheduler();
  const udp = new FakeUdp(app);
  const logs: string[] = [];
  const logger: Logger = { error: (m) => logs.push(m), warn: (m) => logs.push(`warn: ${m}`), info: () => {}, debug: (m) => logs.push(`debug: ${m}`) };
  const fwd = new PortForwarder({
    endpoint: { connect: () => assert.unreachable('no TCP here') as never },
    udp,
    gatewayIp: GATEWAY,
    runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(3) },
    logger,
    leases: () => [],
    isGuestAddress: (ip) => ip === GUEST,
    ...o,
  });
  return { sched, udp, fwd, logs };
}

const echo = (d: Sent, reply: (t: string) => void): void => reply(`echo:${d.text}`);

/** A host UDP client that records what it receives. */
class Client {
  readonly got: string[] = [];
  readonly s: UdpSocket;
  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
  ) {
    this.s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.s.on('message', (m) => this.got.push(m.toString()));
  }
  send(text: string): void {
    this.s.send(text, this.port, this.host);
  }
  /** Binds the client to `port` on its address first. */
  async bind(port: number): Promise<void> {
    await new Promise<void>((r, j) => {
      this.s.once('error', j);
      this.s.bind(port, this.host, () => r());
    });
  }
  get localPort(): number {
    return this.s.address().port;
  }
  close(): void {
    this.s.close();
  }
}

const udp = suite('expose udp');

udp('round trip: each host client gets its own gateway source port and only its own replies', async () => {
  const f = fixture(echo);
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 5353, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  assert.equal([h.protocol, h.hostIp, h.guestPort], ['udp', '127.0.0.1', 5353]);
  const a = new Client(h.hostPort!);
  const b = new Client(h.hostPort!);
  a.send('from a');
  b.send('from b');
  a.send('again a');
  await until(() => a.got.length === 2 && b.got.length === 1, 'replies');
  assert.equal(a.got, ['echo:from a', 'echo:again a']);
  assert.equal(b.got, ['echo:from b']);
  assert.ok(f.udp.sent.every((d) => d.src === GATEWAY && d.dst === GUEST && d.dport === 5353));
  const portsOf = (text: string): number[] => f.udp.sent.filter((d) => d.text.endsWith(text)).map((d) => d.sport);
  assert.is(portsOf(' a')[0], portsOf(' a')[1], 'one client, one gateway port');
  assert.is.not(portsOf(' a')[0], portsOf(' b')[0], 'two clients, two gateway ports');
  assert.ok(portsOf(' a')[0]! >= 49152);
  assert.is(h.connections, 2);
  const st = f.fwd.stats().udp;
  assert.equal([st.flows, st.datagramsToGuest, st.datagramsToHost], [2, 3, 3]);
  a.close();
  b.close();
  await f.fwd.close();
  assert.is(f.udp.bound.size, 0, 'every gateway port unbound');
});

udp('a client flow expires after 60 s idle, activity keeps it, and a new datagram opens a new flow', async () => {
  const f = fixture(echo);
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 53, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const a = new Client(h.hostPort!);
  a.send('1');
  await until(() => a.got.length === 1, 'first reply');
  f.sched.advance(59_000);
  a.send('2');
  await until(() => a.got.length === 2, 'second reply');
  f.sched.advance(59_000);
  assert.is(h.connections, 1, 'activity 59 s ago keeps the flow');
  f.sched.advance(1_000);
  assert.is(h.connections, 0, 'expired after 60 s idle');
  assert.is(f.fwd.stats().udp.expired, 1);
  assert.is(f.udp.bound.size, 0, 'its gateway port is unbound');
  a.send('3');
  await until(() => a.got.length === 3, 'new flow');
  assert.equal(a.got, ['echo:1', 'echo:2', 'echo:3']);
  a.close();
  await f.fwd.close();
});

udp('datagrams wait, in order, for an unresolved guest MAC; they are dropped with a warning when ARP never answers', async () => {
  const f = fixture(echo);
  f.udp.resolved = false;
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 7, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const a = new Client(h.hostPort!);
  for (const t of ['x', 'y', 'z']) a.send(t);
  await until(() => h.connections === 1, 'flow open');
  await until(() => f.fwd.stats().udp.datagramsToGuest === 0 && f.sched.size > 1, 'waiting');
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  f.sched.advance(500);
  assert.is(f.udp.sent.length, 0, 'nothing sent while unresolved');
  f.udp.resolved = true;
  f.sched.advance(50);
  assert.equal(f.udp.sent.map((d) => d.text), ['x', 'y', 'z']);
  await until(() => a.got.length === 3, 'replies');

  f.udp.resolved = false;
  a.send('lost');
  await until(() => f.sched.nextDeadline() < f.sched.clock.now() + 100, 'retry armed');
  f.sched.advance(3_000);
  assert.is(f.fwd.stats().udp.dropped, 1);
  assert.ok(f.logs.some((l) => l.includes('no ARP answer from 192.168.65.2 within 3000 ms')), f.logs.join('\n'));
  a.close();
  await f.fwd.close();
});

udp('replies from another guest port are not delivered to the client; the UDP fallback (the NAT) gets them', async () => {
  const f = fixture((d, reply) => {
    reply('wrong port', 9999);
    reply('right port');
  });
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 7, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const a = new Client(h.hostPort!);
  a.send('q');
  await until(() => a.got.length === 1, 'reply');
  assert.equal(a.got, ['right port']);
  assert.is(f.fwd.stats().udp.foreign, 1);
  const src = f.udp.sent[0]!;
  assert.equal(f.udp.toFallback, [`${GUEST}:9999>${src.src}:${src.sport}`]);
  a.close();
  await f.fwd.close();
});

udp('the least recently used flow is evicted at the cap', async () => {
  const f = fixture(echo, { udpMaxFlows: 2 });
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 7, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const cs = [new Client(h.hostPort!), new Client(h.hostPort!), new Client(h.hostPort!)];
  for (const [i, c] of cs.entries()) {
    f.sched.advance(10);
    c.send(`c${i}`);
    await until(() => c.got.length === 1, `reply ${i}`);
  }
  assert.is(h.connections, 2);
  assert.is(f.fwd.stats().udp.evicted, 1);
  assert.is(f.udp.bound.size, 2);
  for (const c of cs) c.close();
  await f.fwd.close();
});

udp('a host UDP port taken by another socket is port-in-use; unexpose frees the port for rebinding', async () => {
  const f = fixture(echo);
  const other = createSocket('udp4');
  await new Promise<void>((r) => other.bind(0, '127.0.0.1', r));
  const port = other.address().port;
  const e = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 7, hostPort: port, protocol: 'udp' }))._unsafeUnwrapErr();
  assert.is(e.kind, 'port-in-use');
  assert.match(e.message, `127.0.0.1:${port}/udp`);
  other.close();
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 7, hostPort: port, protocol: 'udp' }))._unsafeUnwrap();
  const a = new Client(port);
  a.send('hi');
  await until(() => a.got.length === 1, 'reply');
  (await f.fwd.unexpose({ hostIp: '127.0.0.1', hostPort: port, protocol: 'udp' }))._unsafeUnwrap();
  assert.is(f.udp.bound.size, 0);
  const again = createSocket('udp4');
  await new Promise<void>((r, j) => {
    again.once('error', j);
    again.bind(port, '127.0.0.1', r);
  });
  again.close();
  assert.is(h.connections, 0);
  a.close();
  await f.fwd.close();
});

// ---------------------------------------------------------------------------------------------
const source = suite('expose udp: who the guest sees');

source('a 127.0.0.1 client\'s datagrams come from the alias and its own port; replies bound there reach it; expiry unbinds', async () => {
  const f = fixture(echo, { hostLoopbackIp: ALIAS });
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 53, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const a = new Client(h.hostPort!);
  a.send('q');
  await until(() => a.got.length === 1, 'reply');
  assert.equal(a.got, ['echo:q']);
  assert.equal([f.udp.sent[0]!.src, f.udp.sent[0]!.sport], [ALIAS, a.localPort]);
  assert.equal([...f.udp.bound.keys()], [`${ALIAS}:${a.localPort}`]);
  f.sched.advance(60_000);
  assert.is(f.udp.bound.size, 0, 'unbound on expiry');
  a.close();
  await f.fwd.close();
});

source('127.0.0.1:P and [::1]:P on a localhost port: the second gets an ephemeral alias port (debug line); each gets only its replies', async () => {
  const f = fixture(echo, { hostLoopbackIp: ALIAS });
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 53, hostIp: 'localhost', hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const a = new Client(h.hostPort!, '127.0.0.1');
  await a.bind(0);
  const b = new Client(h.hostPort!, '::1');
  await b.bind(a.localPort);
  const p = a.localPort;
  a.send('from a');
  await until(() => a.got.length === 1, 'reply to a');
  b.send('from b');
  await until(() => b.got.length === 1, 'reply to b');
  assert.equal([a.got, b.got], [['echo:from a'], ['echo:from b']]);
  const [sa, sb] = f.udp.sent;
  assert.equal([sa!.src, sa!.sport], [ALIAS, p]);
  assert.is(sb!.src, ALIAS);
  assert.ok(sb!.sport >= 49152 && sb!.sport !== p, String(sb!.sport));
  assert.ok(f.logs.includes(`debug: localhost:${h.hostPort}/udp -> 192.168.65.2:53: client [::1]:${p}: 192.168.65.254:${p} is held by another flow; the guest sees 192.168.65.254:${sb!.sport}`), f.logs.join('\n'));
  a.close();
  b.close();
  await f.fwd.close();
  assert.is(f.udp.bound.size, 0);
});

source('preserveClientAddress false: the gateway and an ephemeral port, even with the alias on', async () => {
  const f = fixture(echo, { hostLoopbackIp: ALIAS });
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 53, hostPort: 0, protocol: 'udp', preserveClientAddress: false }))._unsafeUnwrap();
  const a = new Client(h.hostPort!);
  a.send('q');
  await until(() => a.got.length === 1, 'reply');
  assert.is(f.udp.sent[0]!.src, GATEWAY);
  assert.ok(f.udp.sent[0]!.sport >= 49152);
  assert.is(f.fwd.list()[0]!.preserveClientAddress, false);
  a.close();
  await f.fwd.close();
});

udp.run();
source.run();
