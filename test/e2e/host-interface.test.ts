/**
 * Host routes into guests, end to end with real kernels: the host reaches a guest's own IP with
 * ping and curl through a TAP on the bridge, an extra host route reaches a subnet behind the
 * guest, the guest reaches the host's address, and the device disappears on close() and when
 * the network closes. Errors are checked against the real system too: a taken name, an address a
 * guest holds, a LAN that already claims the subnet, no CAP_NET_ADMIN.
 *
 * Network safety: the host interface is never created in this machine's root namespace. This
 * file runs twice. Run normally, it creates a network namespace that stands in for "the host"
 * and re-runs itself inside it (`ip netns exec NS node … this-file`); that inner run refuses to
 * start unless it really is in that namespace, creates the VirtualNetwork and the TAP there, and
 * makes its guests with the e2e harness (their own namespaces, attached through `listenQemu`).
 * Traffic only flows between those namespaces. Needs root on Linux and the native addon.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HostInterface } from '../../src/host-interface/host-interface.js';
import { loadNative } from '../../src/native/index.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { runDhcp } from './harness/dhcp.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitForTcpListener, withTimeout } from './harness/probes.js';
import { registerNamespace, removeNamespaceSync } from './harness/registry.js';

/** Set (to the namespace name) only for the inner run. */
const HOST_NS_ENV = 'VNETKIT_E2E_HOST_NS';
/** The outer run's own network namespace (`net:[inode]`), which the inner run must not be in. */
const OUTER_NETNS_ENV = 'VNETKIT_E2E_OUTER_NETNS';
const FILE = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IFACE = 'vnkh0';
const HOST_IP = '192.168.65.3';

const hostNs = process.env[HOST_NS_ENV];
if (hostNs === undefined) outerRun();
else innerRun(hostNs);
test.run();

// ---- outer run: make the stand-in host namespace and run the suite inside it ------------------

function outerRun(): void {
  const native = loadNative();
  const skip = e2eSkipReason(['busybox', 'curl', 'ping', 'setpriv']) ?? (native.isErr() ? native.error.message : undefined);
  if (skip) console.log(`SKIP test/e2e/host-interface.test.ts: ${skip}`);
  (skip ? test.skip : test)('the host-interface suite passes inside a namespace standing in for the host', async () => {
    const ns = `vnk-host-${randomBytes(3).toString('hex')}`;
    const owned = registerNamespace(ns);
    try {
      await execa('ip', ['netns', 'add', ns]);
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--import', './test/setup.ts', FILE], {
        cwd: ROOT,
        env: { ...process.env, [HOST_NS_ENV]: ns, [OUTER_NETNS_ENV]: readlinkSync('/proc/self/ns/net') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (child.pid !== undefined) owned.pids.add(child.pid);
      let out = '';
      const relay = (c: Buffer): void => {
        out += c.toString();
        process.stdout.write(c.toString().replace(/^/gm, '  │ '));
      };
      child.stdout.on('data', relay);
      child.stderr.on('data', relay);
      const code = await withTimeout(
        'the inner host-interface run',
        new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
        300_000,
        () => ({ namespace: ns, stdout: out }),
      );
      // eslint-disable-next-line no-control-regex
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? -1);
      assert.is(code, 0, 'the inner run failed (its output is above)');
      assert.ok(total >= 5, `the inner run ran ${total} tests`);
      assert.is(passed, total, 'every inner test passed');
      assert.match(plain, /Skipped:\s+0/);
    } finally {
      removeNamespaceSync(owned); // kills what is left in it by PID, deletes it (and any TAP in it)
    }
  });
}

// ---- inner run: inside the stand-in host namespace ---------------------------------------------

/** Exits unless this process is in namespace `ns` and not in the outer run's (or init's) namespace. */
function refuseOutsideHostNamespace(ns: string): void {
  const mine = readlinkSync('/proc/self/ns/net');
  const others = [process.env[OUTER_NETNS_ENV]];
  try {
    others.push(readlinkSync('/proc/1/ns/net'));
  } catch {
    // not readable in some sandboxes; the outer run's namespace and the name check remain
  }
  let id = '';
  try {
    id = execFileSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).trim();
  } catch {
    // reported below
  }
  const why =
    others[0] === undefined ? `${OUTER_NETNS_ENV} is not set` : others.includes(mine) ? `this process is in the outer namespace (${mine})` : id !== ns ? `in namespace "${id}", expected "${ns}"` : undefined;
  if (why !== undefined) {
    console.error(`test/e2e/host-interface.test.ts: refusing to create a host interface: ${why}`);
    process.exit(1);
  }
}

function innerRun(ns: string): void {
  refuseOutsideHostNamespace(ns);
  let dir = '';
  let net: VirtualNetwork | undefined;
  let seq = 0;

  test.before(async () => {
    await execa('ip', ['link', 'set', 'lo', 'up']);
    dir = mkdtempSync('/tmp/vnk-hi-');
  });
  test.after.each(async () => {
    await closeAllGuests();
    await net?.close();
    net = undefined;
  });
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  /** A network listening for QEMU guests and one DHCP guest serving HTTP on 8080. */
  async function networkWithGuest(): Promise<{ net: VirtualNetwork; guest: Guest; guestIp: string; body: string }> {
    net = VirtualNetwork.create()._unsafeUnwrap();
    const sock = join(dir, `q${seq++}.sock`);
    (await net.listenQemu(sock))._unsafeUnwrap();
    const guest = await createGuest({ socketPath: sock, framing: 'qemu', mac: '02:00:00:00:0e:01' });
    const lease = await runDhcp(guest);
    const www = mkdtempSync(join(dir, 'www-'));
    const body = `hello from ${guest.name} ${randomBytes(8).toString('hex')}`; // no trailing newline: execa strips the last one
    writeFileSync(join(www, 'hello.txt'), body);
    guest.spawn(['busybox', 'httpd', '-f', '-p', '8080', '-h', www]);
    await waitForTcpListener(guest, 8080);
    return { net, guest, guestIp: lease.ip, body };
  }

  const host = (cmd: string, args: string[]) => execa(cmd, args, { reject: false, timeout: 30_000 });
  const curl = (url: string) => host('curl', ['-sS', '--noproxy', '*', '--max-time', '10', url]);

  async function pingOk(ip: string): Promise<void> {
    const r = await host('ping', ['-c', '3', '-i', '0.2', '-W', '2', ip]);
    assert.is(r.exitCode, 0, `ping ${ip}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /3 received/);
  }

  async function linkShown(name: string): Promise<boolean> {
    const r = await host('ip', ['link', 'show', 'dev', name]);
    if (r.exitCode !== 0) assert.match(r.stderr, /does not exist/, r.stderr);
    return r.exitCode === 0;
  }

  test('the host pings and curls a DHCP guest at its own address; the guest reaches the host address', async () => {
    const { net, guest, guestIp, body } = await networkWithGuest();
    const hi: HostInterface = (await net.attachHostInterface({ name: IFACE, address: `${HOST_IP}/24` }))._unsafeUnwrap();
    assert.match((await host('ip', ['-4', 'addr', 'show', 'dev', IFACE])).stdout, new RegExp(`inet ${HOST_IP.replace(/\./g, '\\.')}/24 brd 192\\.168\\.65\\.255`));
    await pingOk(guestIp);
    const got = await curl(`http://${guestIp}:8080/hello.txt`);
    assert.is(got.exitCode, 0, got.stderr);
    assert.is(got.stdout, body);
    // The other way: the guest sees the host interface as a neighbour on its link.
    const r = await guest.exec(['busybox', 'ping', '-c', '2', '-w', '10', HOST_IP], { reject: false });
    assert.match(r.stdout, /2 packets received/, r.stdout);
    const server = createServer((s) => s.on('data', (d) => s.end(`echo:${d.toString()}`)));
    await new Promise<void>((res) => server.listen(0, HOST_IP, res));
    const port = (server.address() as AddressInfo).port;
    const nc = await guest.exec(['sh', '-c', `echo guest-says-hi | busybox nc -w 5 ${HOST_IP} ${port}`], { reject: false });
    server.close();
    assert.match(nc.stdout, /echo:guest-says-hi/, `${nc.stdout}${nc.stderr}`);
    const info = hi.info();
    assert.ok(info.framesIn > 5 && info.framesOut > 5, `traffic crossed the TAP port: ${JSON.stringify(info)}`);
    assert.ok(hi.reservedFromPool, `${HOST_IP} is in the default pool, so it is reserved`);
  });

  test('an extra host route reaches a subnet behind the guest (10.88.0.0/16 via the guest)', async () => {
    const { net, guest, guestIp, body } = await networkWithGuest();
    await guest.exec(['ip', 'addr', 'add', '10.88.0.1/32', 'dev', 'lo']);
    const routes = [`10.88.0.0/16 via ${guestIp}`];
    const hi = (await net.attachHostInterface({ name: IFACE, address: `${HOST_IP}/24`, routes }))._unsafeUnwrap();
    assert.equal(hi.info().routes, routes);
    const shown = await host('ip', ['route', 'show', '10.88.0.0/16']);
    assert.match(shown.stdout, new RegExp(`via ${guestIp.replace(/\./g, '\\.')} dev ${IFACE}`));
    await pingOk('10.88.0.1');
    const got = await curl('http://10.88.0.1:8080/hello.txt');
    assert.is(got.exitCode, 0, got.stderr);
    assert.is(got.stdout, body);
  });

  test('detaching removes the device and its routes; the guest is unreachable from the host again', async () => {
    const { net, guestIp } = await networkWithGuest();
    (await net.attachHostInterface({ name: IFACE, address: `${HOST_IP}/24`, routes: [`10.88.0.0/16 via ${guestIp}`] }))._unsafeUnwrap();
    await pingOk(guestIp);
    assert.ok(await linkShown(IFACE));
    (await net.detachHostInterface(IFACE))._unsafeUnwrap();
    assert.not.ok(await linkShown(IFACE), 'ip link show fails after detaching');
    assert.is((await host('ip', ['route', 'show', '10.88.0.0/16'])).stdout.trim(), '');
    assert.is((await host('ping', ['-c', '1', '-W', '1', guestIp])).exitCode === 0, false, 'no route to the guest any more');
    assert.is(net.switch.allPorts().length, 2, 'gateway and guest remain on the bridge');
    assert.equal(net.dhcp.pool.reservations(), []);
  });

  test('closing the network removes the device too', async () => {
    const { net, guestIp } = await networkWithGuest();
    (await net.attachHostInterface({ name: IFACE, address: `${HOST_IP}/24` }))._unsafeUnwrap();
    await pingOk(guestIp);
    await net.close();
    assert.not.ok(await linkShown(IFACE), 'ip link show fails after the network closed');
  });

  test('real failures: name taken, address held by a guest, a LAN already on the subnet, no CAP_NET_ADMIN', async () => {
    const { net, guestIp } = await networkWithGuest();
    await host('ip', ['link', 'add', 'vnk-taken', 'type', 'bridge']);
    const taken = (await net.attachHostInterface({ name: 'vnk-taken', address: `${HOST_IP}/24` }))._unsafeUnwrapErr();
    assert.is(taken.kind, 'interface-exists', taken.message);
    await host('ip', ['link', 'del', 'vnk-taken']);

    const held = (await net.attachHostInterface({ name: IFACE, address: `${guestIp}/24` }))._unsafeUnwrapErr();
    assert.is(held.kind, 'address-in-use', held.message);
    assert.not.ok(await linkShown(IFACE), 'nothing was created');

    // A "LAN" that already routes 192.168.65.0/24 on this host: the check sees it and undoes everything.
    await host('ip', ['link', 'add', 'vnk-lan', 'type', 'veth', 'peer', 'name', 'vnk-lan-p']);
    await host('ip', ['addr', 'add', '192.168.65.200/24', 'dev', 'vnk-lan']);
    await host('ip', ['link', 'set', 'vnk-lan', 'up']);
    await host('ip', ['link', 'set', 'vnk-lan-p', 'up']);
    const conflict = (await net.attachHostInterface({ name: IFACE, address: `${HOST_IP}/24` }))._unsafeUnwrapErr();
    await host('ip', ['link', 'del', 'vnk-lan']);
    assert.is(conflict.kind, 'subnet-conflict', conflict.message);
    assert.match(conflict.message, /through vnk-lan/);
    assert.not.ok(await linkShown(IFACE), 'rolled back');
    assert.equal(net.dhcp.pool.reservations(), []);

    // Without CAP_NET_ADMIN (still root otherwise): TUNSETIFF answers EPERM.
    const script = [
      `const { VirtualNetwork } = await import(${JSON.stringify(join(ROOT, 'src/virtual-network.ts'))});`,
      `const { attachHostInterface } = await import(${JSON.stringify(join(ROOT, 'src/host-interface/host-interface.ts'))});`,
      'const net = VirtualNetwork.create()._unsafeUnwrap();',
      `const r = await net.attachHostInterface({ name: '${IFACE}', address: '${HOST_IP}/24' });`,
      'console.log(JSON.stringify(r.isErr() ? r.error : { ok: true }));',
      'await net.close(); process.exit(0);',
    ].join('\n');
    const drop = await execa(
      'setpriv',
      ['--bounding-set', '-net_admin', '--inh-caps', '-net_admin', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: ROOT, reject: false, timeout: 60_000 },
    );
    assert.is(drop.exitCode, 0, drop.stderr);
    const e = JSON.parse(drop.stdout.trim().split('\n').at(-1)!) as { kind: string; message: string };
    assert.is(e.kind, 'not-permitted', e.message);
    assert.match(e.message, /CAP_NET_ADMIN/);
    assert.not.ok(await linkShown(IFACE));
  });
}
