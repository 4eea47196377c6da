/**
 * Host-interface specs, CLI flags and `ip` plumbing as pure functions: names, addresses and
 * routes are checked against the network before anything touches the system; argv is data;
 * `ip` failures map to kinds a user can act on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostInterfaceFromFlags, parseHostInterfaceFlag } from '../../src/host-interface/flags.js';
import { ipArgs, ipFailure, routeDevice, saysNoSuchDevice, type IpOutcome } from '../../src/host-interface/ip-command.js';
import {
  cidrsOverlap,
  deriveMac,
  formatHostRoute,
  parseHostRoute,
  resolveHostInterfaceSpec,
  validateInterfaceName,
  type HostAddressing,
  type HostInterfaceSpec,
} from '../../src/host-interface/spec.js';
import { resolveOptions } from '../../src/options.js';
import { formatMac, parseCidr, parseIpv4 } from '../../src/wire/address.js';

const net: HostAddressing = resolveOptions({})._unsafeUnwrap(); // 192.168.65.0/24, gw .1, alias .254, mtu 1500
const ip = (s: string): number => parseIpv4(s)!;
const resolve = (s: Partial<HostInterfaceSpec>) => resolveHostInterfaceSpec({ name: 'vnk0', address: '192.168.65.3/24', ...s }, net);
const kindOf = (s: Partial<HostInterfaceSpec>): string => resolve(s)._unsafeUnwrapErr().kind;

test('names: 1-15 characters of letters, digits, _ . -; never a leading dash or a slash', () => {
  for (const ok of ['vnk0', 'a', 'tap-vnk.1_x', 'x'.repeat(15)]) assert.ok(validateInterfaceName(ok).isOk(), ok);
  for (const bad of ['', 'x'.repeat(16), '-batch', '.', '..', 'a/b', 'a b', 'eth0:1', 'é0', '_x']) {
    const r = validateInterfaceName(bad);
    assert.ok(r.isErr(), bad);
    assert.is(r._unsafeUnwrapErr().kind, 'bad-name');
  }
});

test('a route is "CIDR via IP"; host bits, a missing via or a bad prefix are named', () => {
  const r = parseHostRoute('10.88.0.0/16 via 192.168.65.2')._unsafeUnwrap();
  assert.equal(r, { destination: { network: ip('10.88.0.0'), prefix: 16 }, via: ip('192.168.65.2') });
  assert.is(formatHostRoute(r), '10.88.0.0/16 via 192.168.65.2');
  assert.ok(parseHostRoute('  10.88.0.0/16   via  192.168.65.2 ').isOk(), 'extra spaces are fine');
  assert.match(parseHostRoute('10.88.1.0/16 via 192.168.65.2')._unsafeUnwrapErr().message, /host bits set; did you mean 10\.88\.0\.0\/16\?/);
  for (const bad of ['10.88.0.0/16', '10.88.0.0/16 192.168.65.2', '10.88.0.0 via 192.168.65.2', '10.88.0.0/33 via 192.168.65.2', '10.88.0.0/16 via gw', 'via 1.2.3.4']) {
    const e = parseHostRoute(bad);
    assert.ok(e.isErr(), bad);
    assert.is(e._unsafeUnwrapErr().kind, 'bad-route');
  }
});

test('a full spec resolves with the network MTU and a stable derived MAC by default', () => {
  const r = resolve({ routes: ['10.88.0.0/16 via 192.168.65.2', '172.30.0.0/24 via 192.168.65.9'] })._unsafeUnwrap();
  assert.is(r.ip, ip('192.168.65.3'));
  assert.is(r.prefix, 24);
  assert.is(r.mtu, 1500);
  assert.is(r.routes.length, 2);
  assert.is(r.mac, deriveMac('vnk0', ip('192.168.65.3')));
  assert.match(formatMac(r.mac), /^02:76:/);
  assert.is(deriveMac('vnk0', ip('192.168.65.3')), deriveMac('vnk0', ip('192.168.65.3')), 'stable');
  assert.is.not(deriveMac('vnk0', ip('192.168.65.3')), deriveMac('vnk1', ip('192.168.65.3')));
  assert.is(resolve({ address: '192.168.65.3' })._unsafeUnwrap().prefix, 24, 'the prefix may be left out');
  assert.is(resolve({ mac: '02:aa:bb:cc:dd:ee', mtu: 1400 })._unsafeUnwrap().mac, 0x02aabbccddee);
});

test('the address must be a free host address of the subnet with its prefix', () => {
  for (const [address, why] of [
    ['192.168.65.1/24', /gateway/],
    ['192.168.65.254/24', /host-loopback alias/],
    ['192.168.65.0/24', /network address/],
    ['192.168.65.255/24', /broadcast/],
    ['10.0.0.3/24', /outside the subnet/],
    ['192.168.65.3/16', /prefix must be the bridge subnet's \(\/24/],
    ['192.168.65.3/x', /prefix/],
    ['192.168.065.3/24', /must be IP\/PREFIX/],
    ['', /must be IP\/PREFIX/],
  ] as const) {
    const e = resolve({ address })._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-address', address);
    assert.match(e.message, why, address);
    assert.is(e.interfaceName, 'vnk0');
  }
});

test('MAC and MTU: unicast, not the gateway; MTU from 576 up to the network MTU', () => {
  assert.is(kindOf({ mac: 'nope' }), 'bad-mac');
  assert.is(kindOf({ mac: '01:00:5e:00:00:01' }), 'bad-mac');
  assert.is(kindOf({ mac: 'f6:16:36:bc:f9:c6' }), 'bad-mac');
  assert.is(kindOf({ mtu: 1501 }), 'bad-mtu');
  assert.is(kindOf({ mtu: 575 }), 'bad-mtu');
  assert.is(kindOf({ mtu: 1400.5 }), 'bad-mtu');
  assert.is(resolve({ mtu: 576 })._unsafeUnwrap().mtu, 576);
});

test('routes must lead via a guest to somewhere that is not the bridge, loopback or everything', () => {
  const cases: Array<[string, RegExp]> = [
    ['0.0.0.0/0 via 192.168.65.2', /default route/],
    ['192.168.0.0/16 via 192.168.65.2', /overlaps the bridge subnet/],
    ['192.168.65.128/25 via 192.168.65.2', /overlaps the bridge subnet/],
    ['127.0.0.0/8 via 192.168.65.2', /loopback/],
    ['224.0.0.0/4 via 192.168.65.2', /multicast/],
    ['10.88.0.0/16 via 192.168.65.1', /next hop must be a guest address.*gateway/],
    ['10.88.0.0/16 via 192.168.65.254', /alias/],
    ['10.88.0.0/16 via 192.168.65.3', /own address/],
    ['10.88.0.0/16 via 10.0.0.1', /outside the subnet/],
  ];
  for (const [route, why] of cases) {
    const e = resolve({ routes: [route] })._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-route', route);
    assert.match(e.message, why, route);
  }
  assert.match(resolve({ routes: ['10.88.0.0/16 via 192.168.65.2', '10.88.0.0/16 via 192.168.65.5'] })._unsafeUnwrapErr().message, /given twice/);
});

test('cidrsOverlap covers containment both ways and disjoint prefixes', () => {
  const c = (s: string) => parseCidr(s)!;
  assert.ok(cidrsOverlap(c('10.0.0.0/8'), c('10.88.0.0/16')));
  assert.ok(cidrsOverlap(c('10.88.0.0/16'), c('10.0.0.0/8')));
  assert.not.ok(cidrsOverlap(c('10.88.0.0/16'), c('10.89.0.0/16')));
  assert.not.ok(cidrsOverlap(c('192.168.64.0/24'), c('192.168.65.0/24')));
});

test('--host-interface NAME=IP/PREFIX[,mac=][,mtu=] and --host-route combine into one spec', () => {
  assert.equal(parseHostInterfaceFlag('vnk0=192.168.65.3/24')._unsafeUnwrap(), { name: 'vnk0', address: '192.168.65.3/24' });
  assert.equal(parseHostInterfaceFlag('vnk0=192.168.65.3/24,mac=02:00:00:00:00:99,mtu=1400')._unsafeUnwrap(), {
    name: 'vnk0',
    address: '192.168.65.3/24',
    mac: '02:00:00:00:00:99',
    mtu: 1400,
  });
  assert.equal(hostInterfaceFromFlags(['vnk0=192.168.65.3/24'], ['10.88.0.0/16 via 192.168.65.2'])._unsafeUnwrap(), {
    name: 'vnk0',
    address: '192.168.65.3/24',
    routes: ['10.88.0.0/16 via 192.168.65.2'],
  });
  assert.is(hostInterfaceFromFlags(undefined, undefined)._unsafeUnwrap(), undefined);
});

test('bad host-interface flags are one bad-flag error naming the flag', () => {
  const cases: Array<[string[] | undefined, string[] | undefined, string, RegExp]> = [
    [['vnk0'], undefined, '--host-interface', /expected NAME=IP\/PREFIX/],
    [['=1.2.3.4/24'], undefined, '--host-interface', /expected NAME=IP\/PREFIX/],
    [['-x=192.168.65.3/24'], undefined, '--host-interface', /must start with a letter or digit/],
    [['vnk0='], undefined, '--host-interface', /missing IP\/PREFIX/],
    [['vnk0=192.168.65.3/24,speed=10'], undefined, '--host-interface', /unknown setting "speed=10"/],
    [['vnk0=192.168.65.3/24,mtu=big'], undefined, '--host-interface', /mtu is not a number/],
    [['a=192.168.65.3/24', 'b=192.168.65.4/24'], undefined, '--host-interface', /at most once/],
    [undefined, ['10.88.0.0/16 via 192.168.65.2'], '--host-route', /needs --host-interface/],
    [['vnk0=192.168.65.3/24'], ['10.88.0.0/16'], '--host-route', /CIDR via IP/],
  ];
  for (const [ifs, routes, flag, why] of cases) {
    const e = hostInterfaceFromFlags(ifs, routes)._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-flag', JSON.stringify([ifs, routes]));
    assert.is(e.flag, flag);
    assert.ok(e.message.startsWith(`${flag}: `), e.message);
    assert.match(e.message, why);
  }
});

test('ip argv: every step is a plain argument list, the name always after "dev"', () => {
  const r = parseHostRoute('10.88.0.0/16 via 192.168.65.2')._unsafeUnwrap();
  assert.equal(ipArgs.show('vnk0'), ['link', 'show', 'dev', 'vnk0']);
  assert.equal(ipArgs.setMacMtu('vnk0', 0x027600000001, 1500), ['link', 'set', 'dev', 'vnk0', 'address', '02:76:00:00:00:01', 'mtu', '1500']);
  assert.equal(ipArgs.addAddress('vnk0', ip('192.168.65.3'), 24), ['addr', 'add', '192.168.65.3/24', 'brd', '+', 'dev', 'vnk0']);
  assert.equal(ipArgs.up('vnk0'), ['link', 'set', 'dev', 'vnk0', 'up']);
  assert.equal(ipArgs.addRoute('vnk0', r), ['route', 'add', '10.88.0.0/16', 'via', '192.168.65.2', 'dev', 'vnk0']);
  assert.equal(ipArgs.routeGet(ip('192.168.65.1')), ['route', 'get', '192.168.65.1']);
  assert.equal(ipArgs.deleteLink('vnk0'), ['link', 'delete', 'dev', 'vnk0']);
});

test('ip output: the route device and "no such device" are read from what ip prints', () => {
  assert.is(routeDevice('192.168.65.1 dev vnk0 src 192.168.65.3 uid 0 \n    cache \n'), 'vnk0');
  assert.is(routeDevice('local 127.0.0.1 dev lo table local src 127.0.0.1'), 'lo');
  assert.is(routeDevice('nothing'), undefined);
  const o = (stderr: string, exitCode: number | undefined = 1): IpOutcome => ({ exitCode, stdout: '', stderr });
  assert.ok(saysNoSuchDevice(o('Device "vnk0" does not exist.\n')));
  assert.ok(saysNoSuchDevice(o('Cannot find device "vnk0"\n')));
  assert.not.ok(saysNoSuchDevice(o('RTNETLINK answers: Operation not permitted\n')));
});

test('ip failures map to kinds: permission, existing route, existing address, missing ip, anything else', () => {
  const o = (stderr: string, extra: Partial<IpOutcome> = {}): IpOutcome => ({ exitCode: 2, stdout: '', stderr, ...extra });
  const route = ipArgs.addRoute('vnk0', parseHostRoute('10.88.0.0/16 via 192.168.65.2')._unsafeUnwrap());
  assert.is(ipFailure('up', ipArgs.up('vnk0'), o('RTNETLINK answers: Operation not permitted'), 'vnk0').kind, 'not-permitted');
  const exists = ipFailure('route', route, o('RTNETLINK answers: File exists'), 'vnk0');
  assert.is(exists.kind, 'bad-route');
  assert.match(exists.message, /already has a route to 10\.88\.0\.0\/16/);
  assert.is(ipFailure('route', route, o('Error: Nexthop has invalid gateway.'), 'vnk0').kind, 'bad-route');
  assert.is(ipFailure('address', ipArgs.addAddress('vnk0', 1, 24), o('Error: ipv4: Address already assigned.'), 'vnk0').kind, 'address-in-use');
  assert.is(ipFailure('up', ipArgs.up('vnk0'), o('', { exitCode: undefined, spawnError: 'ENOENT' }), 'vnk0').kind, 'ip-unavailable');
  const other = ipFailure('link', ipArgs.up('vnk0'), o('Error: something odd.'), 'vnk0');
  assert.is(other.kind, 'config-failed');
  assert.match(other.message, /^ip link set dev vnk0 up failed \(exit 2\): Error: something odd\.$/);
  assert.is(other.interfaceName, 'vnk0');
});

test.run();
