/**
 * Who the guest sees connecting through an exposed TCP port (user-needs.md row 6): real host
 * clients on 127.0.0.x and ::1, one of our own endpoints playing the guest's kernel
 * (test/harness/tcp/guest-pair.ts), and the guest-side connection's remote address and port as
 * the evidence. Covers the alias with the client's port, `preserveClientAddress: false` per port
 * and as the forwarder's default, a disabled alias, and the collisions that make the port
 * ephemeral: two clients on one alias port, a guest connection holding the tuple, a tuple closed
 * less than a minute ago.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { PortForwarder, type PortForwarderOptions } from '../../src/forward/port-forwarder.js';
import type { Logger } from '../../src/logger.js';
import { SeededRng } from '../../src/runtime/rng.js';
import type { Connection } from '../../src/stack/tcp/connection.js';
import { formatIpv4, parseIpv4 } from '../../src/wire/address.js';
import { GUEST, GuestConn, GuestPair, HOST_ALIAS, until } from '../harness/tcp/guest-pair.js';

const GATEWAY = parseIpv4('192.168.65.1')!;
const isGuest = (ip: number): boolean => ip >>> 8 === GATEWAY >>> 8 && ip !== GATEWAY && ip !== HOST_ALIAS && (ip & 255) !== 0 && (ip & 255) !== 255;

interface Fixture {
  pair: GuestPair;
  fwd: PortForwarder;
  debug: string[];
  /** Guest-side connections accepted, in order. */
  accepted: GuestConn[];
}

function fixture(o: Partial<PortForwarderOptions> = {}): Fixture {
  const pair = new GuestPair();
  const debug: string[] = [];
  const logger: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: (m) => debug.push(m) };
  const fwd = new PortForwarder({
    endpoint: pair.gw,
    udp: { bind: () => () => {}, send: () => 0 },
    gatewayIp: GATEWAY,
    hostLoopbackIp: HOST_ALIAS,
    runtime: { clock: pair.sched.clock, scheduler: pair.sched, rng: new SeededRng(7) },
    logger,
    leases: () => [],
    isGuestAddress: isGuest,
    ...o,
  });
  const f: Fixture = { pair, fwd, debug, accepted: [] };
  // The guest's server on port 80 greets and keeps the connection open.
  pair.guest.listen(GUEST, 80, (c: Connection) => {
    const g = new GuestConn(c);
    g.established = true;
    f.accepted.push(g);
    g.sendAll(Buffer.from('hi'));
  });
  return f;
}

/** The source the guest saw for its n-th accepted connection, as `IP:PORT`. */
const peer = (f: Fixture, n: number): string => `${formatIpv4(f.accepted[n]!.conn.remoteIp)}:${f.accepted[n]!.conn.remotePort}`;

/** A host client, optionally from a chosen local address and port; resolves once the guest greeted it. */
async function greeted(port: number, o: { host?: string; localAddress?: string; localPort?: number } = {}): Promise<Socket> {
  const s = connect({ port, host: o.host ?? '127.0.0.1', ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}), ...(o.localPort !== undefined ? { localPort: o.localPort } : {}) });
  let got = '';
  s.on('data', (b: Buffer) => (got += b.toString()));
  s.on('error', () => {});
  await until(() => got === 'hi', `greeting on ${o.localAddress ?? ''}:${o.localPort ?? ''}`);
  return s;
}

/** A port free on both 127.0.0.1 and ::1 a moment ago (for clients bound to it). */
async function freeDualPort(): Promise<number> {
  for (;;) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '::1', r));
    const p = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const v4 = createServer();
    const ok = await new Promise<boolean>((r) => {
      v4.once('error', () => r(false));
      v4.listen(p, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise<void>((r) => v4.close(() => r()));
      return p;
    }
  }
}

// ---------------------------------------------------------------------------------------------
const who = suite('who the guest sees');

who('a loopback client appears as the host-loopback alias with its own port, over 127.0.0.1 and ::1 alike', async () => {
  const f = fixture();
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostIp: 'localhost', hostPort: 0 }))._unsafeUnwrap();
  assert.is(h.preserveClientAddress, true, 'on by default');
  const a = await greeted(h.hostPort!, { host: '127.0.0.1' });
  const b = await greeted(h.hostPort!, { host: '::1' });
  assert.is(peer(f, 0), `192.168.65.254:${a.localPort}`);
  assert.is(peer(f, 1), `192.168.65.254:${b.localPort}`);
  a.destroy();
  b.destroy();
  await f.fwd.close();
});

who('preserveClientAddress false, per port or as the default, shows the gateway and an ephemeral port; per port true wins over the default', async () => {
  const f = fixture({ preserveClientAddress: false });
  const off = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0 }))._unsafeUnwrap();
  const on = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0, preserveClientAddress: true }))._unsafeUnwrap();
  assert.equal([off.preserveClientAddress, on.preserveClientAddress], [false, true]);
  const a = await greeted(off.hostPort!);
  const b = await greeted(on.hostPort!);
  const [ip, port] = peer(f, 0).split(':');
  assert.is(ip, '192.168.65.1');
  assert.ok(Number(port) >= 49152, port);
  assert.is(peer(f, 1), `192.168.65.254:${b.localPort}`);
  assert.equal(f.debug, [], 'an explicit choice is not a fallback worth a line');
  a.destroy();
  b.destroy();
  await f.fwd.close();

  const g = fixture();
  const h = (await g.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0, preserveClientAddress: false }))._unsafeUnwrap();
  const c = await greeted(h.hostPort!);
  assert.match(peer(g, 0), /^192\.168\.65\.1:\d+$/);
  c.destroy();
  await g.fwd.close();
});

who('with the alias disabled a loopback client appears as the gateway, and a debug line says why', async () => {
  const f = fixture({ hostLoopbackIp: -1 });
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0 }))._unsafeUnwrap();
  const a = await greeted(h.hostPort!);
  assert.match(peer(f, 0), /^192\.168\.65\.1:\d+$/);
  assert.equal(f.debug, [`127.0.0.1:${h.hostPort}/tcp -> 192.168.65.2:80: client 127.0.0.1:${a.localPort} appears as the gateway: the host-loopback alias is disabled`]);
  a.destroy();
  await f.fwd.close();
});

who('re-exposing a host end with another preserveClientAddress is port-in-use naming the setting', async () => {
  const f = fixture();
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0 }))._unsafeUnwrap();
  const same = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: h.hostPort!, preserveClientAddress: true }))._unsafeUnwrap();
  assert.is(same, h, 'the same setting spelt out is the same port');
  const e = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: h.hostPort!, preserveClientAddress: false }))._unsafeUnwrapErr();
  assert.is(e.kind, 'port-in-use');
  assert.is(e.message, `127.0.0.1:${h.hostPort}/tcp is already exposed to 192.168.65.2:80 with preserveClientAddress true (unexpose it first to change that)`);
  const bad = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0, preserveClientAddress: 'no' as unknown as boolean }))._unsafeUnwrapErr();
  assert.is(bad.message, 'expose: preserveClientAddress must be true or false, got no');
  await f.fwd.close();
});

// ---------------------------------------------------------------------------------------------
const taken = suite('taken tuples');

taken('127.0.0.1:P and [::1]:P both map to alias:P: the second keeps the alias with an ephemeral port, logged at debug', async () => {
  const f = fixture();
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostIp: 'localhost', hostPort: 0 }))._unsafeUnwrap();
  const p = await freeDualPort();
  const a = await greeted(h.hostPort!, { host: '127.0.0.1', localAddress: '127.0.0.1', localPort: p });
  const b = await greeted(h.hostPort!, { host: '::1', localAddress: '::1', localPort: p });
  assert.is(peer(f, 0), `192.168.65.254:${p}`);
  const [ip, port] = peer(f, 1).split(':');
  assert.is(ip, '192.168.65.254');
  assert.is.not(Number(port), p);
  assert.equal(f.debug, [`localhost:${h.hostPort}/tcp -> 192.168.65.2:80: client [::1]:${p}: 192.168.65.254:${p} > 192.168.65.2:80 is in use; the guest sees 192.168.65.254:${port}`]);
  a.destroy();
  b.destroy();
  await f.fwd.close();
});

taken('a guest connection from its port 80 to alias:P holds the tuple: a client from 127.0.0.2:P gets an ephemeral port', async () => {
  const f = fixture();
  // A host service on 127.0.0.1:P that the guest reaches at the alias through the outbound forwarder.
  const svc = createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => svc.listen(0, '127.0.0.1', r));
  const p = (svc.address() as AddressInfo).port;
  const out = new GuestConn(f.pair.guest.connect({ localIp: GUEST, localPort: 80, remoteIp: HOST_ALIAS, remotePort: p })._unsafeUnwrap());
  await until(() => out.established, 'the guest connection to the alias');
  const h = (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0 }))._unsafeUnwrap();
  const a = await greeted(h.hostPort!, { localAddress: '127.0.0.2', localPort: p });
  const [ip, port] = peer(f, 0).split(':');
  assert.is(ip, '192.168.65.254');
  assert.is.not(Number(port), p);
  assert.match(f.debug.join('\n'), `client 127.0.0.2:${p}: 192.168.65.254:${p} > 192.168.65.2:80 is in use`);
  a.destroy();
  out.conn.abort();
  svc.close();
  await f.fwd.close();
});

taken('a tuple closed less than a minute ago gets an ephemeral port (the guest may hold it in TIME-WAIT); after 60 s it is kept again', async () => {
  const f = fixture();
  // Three host ports to the same guest port, so the host's own TIME-WAIT never blocks reusing P.
  const hs = await Promise.all([0, 1, 2].map(async () => (await f.fwd.expose({ guest: '192.168.65.2', guestPort: 80, hostPort: 0 }))._unsafeUnwrap()));
  const p = await freeDualPort();
  const first = await greeted(hs[0]!.hostPort!, { localAddress: '127.0.0.1', localPort: p });
  assert.is(peer(f, 0), `192.168.65.254:${p}`);
  // The guest closes first, as an HTTP/1.0 server does; the host client answers with its FIN.
  f.accepted[0]!.conn.shutdown();
  first.on('end', () => first.end());
  await until(() => f.accepted[0]!.closed !== undefined && hs[0]!.connections === 0, 'the first connection closed');
  const second = await greeted(hs[1]!.hostPort!, { localAddress: '127.0.0.1', localPort: p });
  const [ip, port] = peer(f, 1).split(':');
  assert.is(ip, '192.168.65.254');
  assert.is.not(Number(port), p);
  assert.match(f.debug.join('\n'), `192.168.65.254:${p} > 192.168.65.2:80 closed less than a minute ago (the guest may hold it in TIME-WAIT); the guest sees 192.168.65.254:${port}`);
  f.pair.sched.advance(60_000);
  const third = await greeted(hs[2]!.hostPort!, { localAddress: '127.0.0.1', localPort: p });
  assert.is(peer(f, 2), `192.168.65.254:${p}`, 'remembered for a minute only');
  second.destroy();
  third.destroy();
  await f.fwd.close();
});

who.run();
taken.run();
