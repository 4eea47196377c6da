/**
 * Who the guest sees as the source of an exposed port's traffic (expose-source.ts): the client's
 * own address and port, a loopback client as the host-loopback alias, the gateway when neither
 * can work; the UDP (address, port) table that keeps two flows off one binding; the memory of
 * recently closed TCP tuples.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseSource, EPHEMERAL_COUNT, EPHEMERAL_LOW, isLoopbackAddress, RecentTuples, UdpSources, type SourceContext } from '../../src/forward/expose-source.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { parseIpv4 } from '../../src/wire/address.js';

const ip = (s: string): number => parseIpv4(s)!;
const GATEWAY = ip('192.168.65.1');
const ALIAS = ip('192.168.65.254');
const ctx: SourceContext = {
  gatewayIp: GATEWAY,
  hostLoopbackIp: ALIAS,
  isGuestAddress: (a) => a >>> 8 === GATEWAY >>> 8 && a !== GATEWAY && a !== ALIAS && (a & 255) !== 0 && (a & 255) !== 255,
};

// ---------------------------------------------------------------------------------------------
const choice = suite('chooseSource');

choice('a loopback client appears as the host-loopback alias with its own port (127.0.0.0/8, ::1, ::ffff:127.x)', () => {
  for (const address of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) {
    assert.equal(chooseSource({ address, port: 40123 }, true, ctx), { ip: ALIAS, port: 40123, kind: 'alias' }, address);
  }
});

choice('an IPv4 client outside the subnet appears as itself, port included (also when dual-stack mapped)', () => {
  assert.equal(chooseSource({ address: '10.1.2.3', port: 5555 }, true, ctx), { ip: ip('10.1.2.3'), port: 5555, kind: 'client' });
  assert.equal(chooseSource({ address: '::ffff:172.16.0.9', port: 6 }, true, ctx), { ip: ip('172.16.0.9'), port: 6, kind: 'client' });
});

choice('the gateway and an ephemeral port stand in when the client cannot be shown, each with its reason', () => {
  const cases: Array<[string | undefined, number | undefined, SourceContext, string]> = [
    ['127.0.0.1', 4000, { ...ctx, hostLoopbackIp: -1 }, 'the host-loopback alias is disabled'],
    ['::1', 4000, { ...ctx, hostLoopbackIp: -1 }, 'the host-loopback alias is disabled'],
    ['2001:db8::5', 4000, ctx, 'the guest network is IPv4 only'],
    ['fe80::1', 4000, ctx, 'the guest network is IPv4 only'],
    ['192.168.65.7', 4000, ctx, 'the client address is inside the guest subnet'],
    ['224.0.0.9', 4000, ctx, 'the client address is not unicast'],
    ['0.1.2.3', 4000, ctx, 'the client address is not unicast'],
    [undefined, undefined, ctx, 'the client has no address (Unix socket)'],
    ['10.0.0.1', undefined, ctx, 'the client has no address (Unix socket)'],
  ];
  for (const [address, port, c, why] of cases) {
    assert.equal(chooseSource({ address, port }, true, c), { ip: GATEWAY, kind: 'gateway', why }, `${String(address)}`);
  }
});

choice('preserveClientAddress false: the gateway for every client, with no fallback reason to log', () => {
  for (const address of ['127.0.0.1', '::1', '10.1.2.3']) {
    assert.equal(chooseSource({ address, port: 4000 }, false, ctx), { ip: GATEWAY, kind: 'gateway' }, address);
  }
});

choice('isLoopbackAddress', () => {
  for (const a of ['127.0.0.1', '127.255.255.254', '::1', '::FFFF:127.0.0.2']) assert.ok(isLoopbackAddress(a), a);
  for (const a of ['128.0.0.1', '10.0.0.1', '::2', '::', '::ffff:10.0.0.1', '1270::1']) assert.not.ok(isLoopbackAddress(a), a);
});

// ---------------------------------------------------------------------------------------------
const udp = suite('UdpSources');

udp('a wanted pair is taken once; the next flow wanting it gets an ephemeral port on the same address', () => {
  const t = new UdpSources(new SeededRng(5));
  assert.is(t.take(ALIAS, 40000), 40000);
  assert.ok(t.has(ALIAS, 40000));
  const second = t.take(ALIAS, 40000)!;
  assert.ok(second >= EPHEMERAL_LOW && second < EPHEMERAL_LOW + EPHEMERAL_COUNT, String(second));
  assert.ok(t.has(ALIAS, second));
  assert.is(t.take(ip('10.0.0.5'), 40000), 40000, 'another address is another pair');
  t.give(ALIAS, 40000);
  assert.not.ok(t.has(ALIAS, 40000));
  assert.is(t.take(ALIAS, 40000), 40000, 'free again once given back');
});

udp('ephemeral ports never repeat while held and run out cleanly', () => {
  const t = new UdpSources(new SeededRng(9));
  const seen = new Set<number>();
  for (let i = 0; i < EPHEMERAL_COUNT; i++) {
    const p = t.take(GATEWAY);
    assert.ok(p !== undefined && !seen.has(p), `take ${i}`);
    seen.add(p!);
  }
  assert.is(t.take(GATEWAY), undefined, 'the range is exhausted');
  assert.is(t.take(GATEWAY, 1234), 1234, 'a wanted port below the range is still free');
  t.give(GATEWAY, 50000);
  assert.is(t.take(GATEWAY), 50000, 'the one given back');
});

// ---------------------------------------------------------------------------------------------
const recent = suite('RecentTuples');

recent('a closed tuple is remembered for 60 s, then forgotten', () => {
  const clock = new ManualClock();
  const r = new RecentTuples(clock);
  const k = RecentTuples.key(ALIAS, 40000, ip('192.168.65.2'), 80);
  assert.not.ok(r.has(k));
  r.add(k);
  clock.set(59_999);
  assert.ok(r.has(k));
  assert.not.ok(r.has(RecentTuples.key(ALIAS, 40000, ip('192.168.65.2'), 81)), 'another guest port is another tuple');
  clock.set(60_000);
  assert.not.ok(r.has(k));
  assert.is(r.size, 0);
});

recent('a tuple closing again is remembered from its latest close; beyond the cap the oldest go first', () => {
  const clock = new ManualClock();
  const r = new RecentTuples(clock, 60_000, 3);
  r.add('a');
  clock.set(30_000);
  r.add('b');
  r.add('a');
  clock.set(70_000);
  assert.equal([r.has('a'), r.has('b')], [true, true], 'a closed again at 30 s');
  clock.set(90_000);
  assert.is(r.size, 0);
  for (const k of ['c', 'd', 'e', 'f']) r.add(k);
  assert.is(r.size, 3);
  assert.equal(['c', 'd', 'e', 'f'].filter((k) => r.has(k)), ['d', 'e', 'f']);
});

choice.run();
udp.run();
recent.run();
