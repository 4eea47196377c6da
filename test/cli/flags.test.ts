import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseExpose, parseReserve, parseServeFlags } from '../../src/cli/flags.js';

test('serve flags map onto network options', () => {
  const c = parseServeFlags([
    '--qemu', '/a.sock', '--qemu', '/b.sock', '--ethernet', '/e.sock', '--subnet', '10.0.5.0/24', '--gateway-ip', '10.0.5.1',
    '--host-ip', '10.0.5.254', '--lowest-ip', '10.0.5.10', '--highest-ip', '10.0.5.20', '--reserve', '02:00:00:00:00:01=10.0.5.15',
    '--reserve', 'c3d68012-0208-11ea-9fd7-f2189899ab08=10.0.5.16', '--leases', '/l.json', '--dns-upstream', '127.0.0.1:5353',
    '--domain', 'vm.test', '--search', 'a.test', '--search', 'b.test', '--host-names', 'host.internal,host.docker.internal',
    '--allow', '127.0.0.0/8', '--deny', '127.0.0.2/32', '--mtu', '9000', '--pcap', '/p.pcap', '--json', '--log-level', 'debug', '--control', '/c.sock',
    '--expose', '8080:10.0.5.15:80', '--expose', '0.0.0.0:5353:10.0.5.15:53/udp',
  ])._unsafeUnwrap();
  assert.equal(c.qemu, ['/a.sock', '/b.sock']);
  assert.equal(c.ethernet, ['/e.sock']);
  assert.equal(c.network.reservations, [{ mac: '02:00:00:00:00:01', ip: '10.0.5.15' }, { uuid: 'c3d68012-0208-11ea-9fd7-f2189899ab08', ip: '10.0.5.16' }]);
  assert.equal(c.network.searchDomains, ['a.test', 'b.test']);
  assert.equal(c.network.hostNames, ['host.internal', 'host.docker.internal']);
  assert.is(c.network.mtu, 9000);
  assert.is(c.json, true);
  assert.is(c.logLevel, 'debug');
  assert.equal(c.expose, [
    { hostIp: '127.0.0.1', hostPort: 8080, guestIp: '10.0.5.15', guestPort: 80, protocol: 'tcp' },
    { hostIp: '0.0.0.0', hostPort: 5353, guestIp: '10.0.5.15', guestPort: 53, protocol: 'udp' },
  ]);
});

test('--no-host-loopback disables the alias', () => {
  assert.is(parseServeFlags(['--qemu', '/a', '--no-host-loopback'])._unsafeUnwrap().network.hostIp, false);
  const both = parseServeFlags(['--qemu', '/a', '--host-ip', '192.168.65.9', '--no-host-loopback'])._unsafeUnwrapErr();
  assert.match(both.message, /^--no-host-loopback: give --host-ip or --no-host-loopback, not both/);
});

for (const [args, flag] of [
  [['--qemu', '/a', '--mtu', 'big'], '--mtu'],
  [['--qemu', '/a', '--log-level', 'loud'], '--log-level'],
  [['--qemu', '/a', '--reserve', 'nonsense'], '--reserve'],
  [['--qemu', '/a', '--reserve', 'zz=1.2.3.4'], '--reserve'],
  [['--qemu', '/a', '--expose', '80'], '--expose'],
  [['--qemu', '/a', '--expose', '70000:1.2.3.4:80'], '--expose'],
  [['--qemu', '/a', '--bogus'], '--bogus'],
  [['--qemu'], '--qemu'],
  [[], '--qemu'],
] as const) {
  test(`bad command line ${JSON.stringify(args)} names ${flag}`, () => {
    const e = parseServeFlags([...args])._unsafeUnwrapErr();
    assert.is(e.flag, flag);
    assert.ok(e.message.startsWith(`${flag}: `), e.message);
    assert.not.match(e.message, /\n/);
  });
}

test('expose and reserve parsers', () => {
  assert.equal(parseExpose('[::1]:2222:192.168.65.2:22')._unsafeUnwrap().hostIp, '::1');
  assert.equal(parseExpose('localhost:2222:192.168.65.2:22')._unsafeUnwrap().hostIp, 'localhost');
  assert.ok(parseReserve('AA-BB-CC-DD-EE-FF=192.168.65.9').isOk());
});

test('a flag missing its value is one line naming the flag', () => {
  const e = parseServeFlags(['--qemu', '--json'])._unsafeUnwrapErr();
  assert.match(e.message, /^--qemu: /);
  assert.not.ok(e.message.includes('\n'), e.message);
});

test.run();
