/**
 * Expose specs before any socket: defaults, the number form's guest choice, validation messages,
 * registry keys, errno → error mapping; and a real privileged-port bind as an unprivileged user.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import {
  bindError,
  defaultGuest,
  describeHostEnd,
  normaliseHostIp,
  portKey,
  resolveExpose,
  resolveUnexpose,
  toExposedPort,
  unixKey,
  type ExposeContext,
  type LeaseInfo,
} from '../../src/forward/expose-spec.js';
import { formatIpv4, parseIpv4 } from '../../src/wire/address.js';

const ctx = (leases: LeaseInfo[] = []): ExposeContext => ({
  isGuestAddress: (ip) => ip >>> 8 === parseIpv4('192.168.65.0')! >>> 8 && (ip & 255) > 1 && (ip & 255) < 254,
  leases: () => leases,
});
const lease = (ip: string, hostname?: string): LeaseInfo => ({ ip, mac: '5a:94:ef:e4:0c:ee', expiresAt: 0, ...(hostname ? { hostname } : {}) });

const spec = suite('resolveExpose');

spec('a number is the only leased guest\'s port on 127.0.0.1, same port, tcp', () => {
  const r = resolveExpose(22, ctx([lease('192.168.65.2')]))._unsafeUnwrap();
  assert.equal({ ...r, guestIp: formatIpv4(r.guestIp) }, { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 22, hostPath: '', guestIp: '192.168.65.2', guestPort: 22, preserveClientAddress: true });
});

spec('no lease or several leases: no-guest, naming them', () => {
  const none = resolveExpose(22, ctx())._unsafeUnwrapErr();
  assert.is(none.kind, 'no-guest');
  assert.match(none.message, 'no guest has a DHCP lease yet');
  const two = defaultGuest([lease('192.168.65.2', 'web'), lease('192.168.65.3')])._unsafeUnwrapErr();
  assert.match(two.message, '2 guests have leases: 192.168.65.2 (web), 192.168.65.3 (5a:94:ef:e4:0c:ee)');
  assert.match(two.message, '{ guest: IP, guestPort }');
});

spec('options: defaults filled, explicit values kept, localhost and IPv6 normalised', () => {
  const r = resolveExpose({ guest: '192.168.65.7', guestPort: 80, hostPort: 8080, protocol: 'udp', hostIp: '::1' }, ctx())._unsafeUnwrap();
  assert.equal([r.protocol, r.hostIp, r.hostPort, formatIpv4(r.guestIp), r.guestPort], ['udp', '::1', 8080, '192.168.65.7', 80]);
  assert.is(resolveExpose({ guest: '192.168.65.7', guestPort: 80, hostIp: 'localhost' }, ctx())._unsafeUnwrap().hostIp, 'localhost');
  assert.is(resolveExpose({ guest: '192.168.65.7', guestPort: 80, hostIp: '[::1]' }, ctx())._unsafeUnwrap().hostIp, '::1');
  assert.is(resolveExpose({ guest: '192.168.65.7', guestPort: 80, hostPort: 0 }, ctx())._unsafeUnwrap().hostPort, 0);
  const u = resolveExpose({ guest: '192.168.65.7', guestPort: 22, hostPath: '/run/ssh.sock' }, ctx())._unsafeUnwrap();
  assert.equal([u.protocol, u.hostPath, u.hostIp], ['unix', '/run/ssh.sock', '']);
});

spec('every malformed spec is refused with a message saying what is wrong', () => {
  const bad: Array<[unknown, string, string]> = [
    [{ guest: '192.168.65.7', guestPort: 0 }, 'bad-address', 'guest port must be an integer 1-65535, got 0'],
    [{ guest: '192.168.65.7', guestPort: 1.5 }, 'bad-address', 'guest port'],
    [{ guest: '192.168.65.7', guestPort: '22' }, 'bad-address', 'guest port'],
    [{ guest: '192.168.65.7', guestPort: 22, hostPort: -1 }, 'bad-address', 'host port must be an integer 0-65535, got -1'],
    [{ guest: '192.168.65.7', guestPort: 22, protocol: 'sctp' }, 'bad-address', 'unknown protocol sctp'],
    [{ guest: '192.168.65.07', guestPort: 22 }, 'bad-address', 'guest must be an IPv4 address'],
    [{ guest: '10.0.0.2', guestPort: 22 }, 'not-a-guest', '10.0.0.2 is not a guest address of the network'],
    [{ guest: '192.168.65.7', guestPort: 22, hostIp: 'example.com' }, 'bad-address', 'host address must be'],
    [{ guest: '192.168.65.7', guestPort: 22, hostPath: '/x', protocol: 'udp' }, 'bad-address', 'carries TCP'],
    [{ guest: '192.168.65.7', guestPort: 22, protocol: 'unix' }, 'bad-address', 'protocol unix needs a host socket path'],
    [{ guest: '192.168.65.7', guestPort: 22, hostPath: '/x', hostPort: 22 }, 'bad-address', 'either hostPath or hostIp/hostPort'],
    [0x10000, 'bad-address', 'guest port'],
  ];
  for (const [s, kind, msg] of bad) {
    const e = resolveExpose(s as never, ctx([lease('192.168.65.2')]))._unsafeUnwrapErr();
    assert.is(e.kind, kind, JSON.stringify(s));
    assert.match(e.message, msg, JSON.stringify(s));
  }
});

spec('keys and descriptions', () => {
  assert.is(portKey('tcp', '127.0.0.1', 2222), 'tcp 127.0.0.1:2222');
  assert.is(portKey('udp', '::1', 53), 'udp [::1]:53');
  assert.is(unixKey('/run/x.sock'), 'unix /run/x.sock');
  assert.is(resolveUnexpose({ hostPort: 2222 })._unsafeUnwrap(), 'tcp 127.0.0.1:2222');
  assert.is(resolveUnexpose({ hostPort: 53, hostIp: '::1', protocol: 'udp' })._unsafeUnwrap(), 'udp [::1]:53');
  assert.is(resolveUnexpose({ hostPath: '/run/x.sock' })._unsafeUnwrap(), 'unix /run/x.sock');
  assert.is(resolveUnexpose({ hostPort: 0 })._unsafeUnwrapErr().kind, 'bad-address');
  assert.is(resolveUnexpose({ hostPort: 1, protocol: 'icmp' as never })._unsafeUnwrapErr().kind, 'bad-address');
  assert.is(describeHostEnd({ protocol: 'udp', hostIp: '::1', hostPort: 53 }), '[::1]:53/udp');
  assert.is(normaliseHostIp('127.000.0.1'), undefined, 'leading zeros are octal to inet_aton: refused');
  assert.is(normaliseHostIp('::FFFF:7f00:1'), '::ffff:7f00:1');
  const p = resolveExpose({ guest: '192.168.65.9', guestPort: 22, hostPort: 0 }, ctx())._unsafeUnwrap();
  assert.equal(toExposedPort(p, 40000), { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 40000, guestIp: '192.168.65.9', guestPort: 22, preserveClientAddress: true });
  const u = resolveExpose({ guest: '192.168.65.9', guestPort: 22, hostPath: '/run/x.sock' }, ctx())._unsafeUnwrap();
  assert.equal(toExposedPort(u), { protocol: 'unix', hostPath: '/run/x.sock', guestIp: '192.168.65.9', guestPort: 22 }, 'a Unix socket has no client address to preserve');
});

spec('preserveClientAddress: on by default, the network default applies, the spec wins; anything but a boolean is refused', () => {
  const at = { guest: '192.168.65.9', guestPort: 22 };
  assert.is(resolveExpose(at, ctx())._unsafeUnwrap().preserveClientAddress, true);
  assert.is(resolveExpose(at, { ...ctx(), preserveClientAddress: false })._unsafeUnwrap().preserveClientAddress, false);
  assert.is(resolveExpose({ ...at, preserveClientAddress: true }, { ...ctx(), preserveClientAddress: false })._unsafeUnwrap().preserveClientAddress, true);
  assert.is(resolveExpose({ ...at, preserveClientAddress: false }, ctx())._unsafeUnwrap().preserveClientAddress, false);
  const e = resolveExpose({ ...at, preserveClientAddress: 'false' as unknown as boolean }, ctx())._unsafeUnwrapErr();
  assert.equal([e.kind, e.message], ['bad-address', 'expose: preserveClientAddress must be true or false, got false']);
});

spec('bind errors become typed errors that name the host end', () => {
  const p = resolveExpose({ guest: '192.168.65.9', guestPort: 80, hostPort: 80 }, ctx())._unsafeUnwrap();
  const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code}`), { code });
  assert.is(bindError(errno('EADDRINUSE'), p).message, '127.0.0.1:80/tcp is already in use by another process');
  assert.is(bindError(errno('EACCES'), p).kind, 'permission-denied');
  assert.match(bindError(errno('EACCES'), p).message, 'ports below 1024 need root or CAP_NET_BIND_SERVICE');
  assert.is(bindError(errno('EADDRNOTAVAIL'), p).kind, 'bad-address');
  assert.is(bindError(errno('EMFILE'), p).kind, 'listen-failed');
});

// ---------------------------------------------------------------------------------------------
const perms = suite('privileged ports');

perms('binding a port below 1024 as an unprivileged user is permission-denied (tcp and udp)', async () => {
  const canDrop = process.getuid?.() === 0 && (await execa('setpriv', ['--version'], { reject: false })).exitCode === 0;
  const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  if (!canDrop || start <= 80) {
    console.log(`  (skipped: needs root and setpriv, and ip_unprivileged_port_start > 80; have ${start})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vnk-perm-'));
  try {
    const root = resolve(import.meta.dirname, '../..');
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      `const { PortForwarder } = await import(${JSON.stringify(join(root, 'src/forward/port-forwarder.ts'))});
const { systemRuntime } = await import(${JSON.stringify(join(root, 'src/runtime/runtime.ts'))});
const f = new PortForwarder({ endpoint: {}, udp: {}, gatewayIp: 1, runtime: systemRuntime(), leases: () => [], isGuestAddress: () => true });
const r = await f.expose({ guest: '192.168.65.2', guestPort: 22, hostPort: 80, protocol: process.argv[2] });
console.log(JSON.stringify(r.isErr() ? r.error : { ok: true }));
await f.close();
`,
    );
    chmodSync(dir, 0o755); // mkdtemp makes it 0700: the unprivileged user must read the probe
    for (const protocol of ['tcp', 'udp']) {
      const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', probe, protocol], { cwd: root, reject: false, timeout: 60_000 });
      assert.is(r.exitCode, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim()) as { kind: string; message: string };
      assert.is(out.kind, 'permission-denied', r.stdout);
      assert.is(out.message, `127.0.0.1:80/${protocol}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

spec.run();
perms.run();
