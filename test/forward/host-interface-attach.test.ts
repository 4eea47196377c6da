/**
 * attachHostInterface against a real VirtualNetwork with the two OS effects faked: `ip` answers
 * from a script and records its argv, the TAP is in memory. Checks the order of steps, the
 * address policy (pool reservation), rollback of every step on each failure, error kinds for
 * each cause, and the lifecycle (close, network close, device vanishing). The real kernel side
 * is test/e2e/host-interface.test.ts.
 */
import { err, ok, type Result } from 'neverthrow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  attachHostInterface,
  closeHostInterfaces,
  detachHostInterface,
  hostInterfaceOf,
  type HostInterfaceEnv,
} from '../../src/host-interface/host-interface.js';
import type { IpOutcome } from '../../src/host-interface/ip-command.js';
import type { HostInterfaceSpec } from '../../src/host-interface/spec.js';
import type { NativeUnavailable } from '../../src/native/index.js';
import { osError, uvCode, type OsError } from '../../src/native/os-error.js';
import type { FrameHandler } from '../../src/native/tap-device.js';
import type { FrameDevice } from '../../src/transports/tap-port.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { parseIpv4, parseMac } from '../../src/wire/address.js';
import { vnetError } from '../../src/errors.js';
import { arpRequest } from '../harness/frames.js';

class FakeTap implements FrameDevice {
  readonly writes: Buffer[] = [];
  closed = false;
  private frame: FrameHandler | undefined;
  private error: ((e: OsError) => void) | undefined;
  constructor(readonly name: string) {}
  onFrame(h: FrameHandler): void {
    this.frame = h;
  }
  onError(h: (e: OsError) => void): void {
    this.error = h;
  }
  write(buf: Uint8Array, off: number, len: number): Result<boolean, OsError> {
    this.writes.push(Buffer.from(buf.subarray(off, off + len)));
    return ok(true);
  }
  close(): void {
    this.closed = true;
  }
  receive(frame: Buffer): void {
    this.frame!(frame, frame.length);
  }
  vanish(): void {
    this.error!(osError('poll', uvCode('EBADF'), this.name));
  }
}

/** The fake OS: `ip` answers through `answer` (default: success), TAPs are FakeTaps. */
function fakeOs(answer: (args: string[]) => Partial<IpOutcome> | undefined = () => undefined, openError?: NativeUnavailable | OsError) {
  const calls: string[] = [];
  const taps: FakeTap[] = [];
  /** Set to make `ip link show` report the device even after its TAP was closed. */
  const device = { persistent: false };
  let exists = false;
  const env: HostInterfaceEnv = {
    platform: 'linux',
    openTap: (name) => {
      if (openError !== undefined) return err(openError);
      const t = new FakeTap(name);
      taps.push(t);
      exists = true;
      return ok(t);
    },
    ip: async (args) => {
      calls.push(args.join(' '));
      const scripted = answer([...args]);
      if (scripted !== undefined) return { exitCode: 0, stdout: '', stderr: '', ...scripted };
      if (args[0] === 'link' && args[1] === 'show') {
        const alive = (exists && !taps.at(-1)!.closed) || device.persistent;
        return alive ? { exitCode: 0, stdout: `7: ${args[3]}: <UP>`, stderr: '' } : { exitCode: 1, stdout: '', stderr: `Device "${args[3]}" does not exist.\n` };
      }
      if (args[0] === 'route' && args[1] === 'get') return { exitCode: 0, stdout: `${args[2]} dev vnk0 src 192.168.65.3 uid 0\n    cache\n`, stderr: '' };
      return { exitCode: 0, stdout: '', stderr: '' };
    },
  };
  return { env, calls, taps, device };
}

const SPEC: HostInterfaceSpec = { name: 'vnk0', address: '192.168.65.3/24', mac: '02:76:00:00:00:03', routes: ['10.88.0.0/16 via 192.168.65.2'] };
const MAC = parseMac('02:76:00:00:00:03')!;
const ip = (s: string): number => parseIpv4(s)!;

let nets: VirtualNetwork[] = [];
function network(opts = {}): VirtualNetwork {
  const n = VirtualNetwork.create(opts)._unsafeUnwrap();
  nets.push(n);
  return n;
}
test.after.each(async () => {
  await Promise.all(nets.map((n) => n.close()));
  nets = [];
});

test('attach runs the steps in order: name free, TAP, MAC+MTU, address, up, routes, route check', async () => {
  const net = network();
  const os = fakeOs();
  const hi = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  assert.equal(os.calls, [
    'link show dev vnk0',
    'link set dev vnk0 address 02:76:00:00:00:03 mtu 1500',
    'addr add 192.168.65.3/24 brd + dev vnk0',
    'link set dev vnk0 up',
    'route add 10.88.0.0/16 via 192.168.65.2 dev vnk0',
    'route get 192.168.65.1',
  ]);
  assert.is(hi.name, 'vnk0');
  assert.is(hi.address, '192.168.65.3/24');
  assert.is(hi.mac, '02:76:00:00:00:03');
  assert.ok(net.switch.allPorts().includes(hi.port), 'the TAP port is on the bridge');
  assert.is(hostInterfaceOf(net), hi);
  assert.equal(hi.info().routes, ['10.88.0.0/16 via 192.168.65.2']);
});

test('the host behaves as a station on the bridge: its ARP for the gateway is answered through the TAP', async () => {
  const net = network();
  const os = fakeOs();
  const hi = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  os.taps[0]!.receive(arpRequest('02:76:00:00:00:03', '192.168.65.3', '192.168.65.1'));
  const reply = os.taps[0]!.writes.find((f) => f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 2);
  assert.ok(reply, 'an ARP reply was written to the TAP');
  assert.is(reply!.readUIntBE(0, 6), MAC, 'addressed to the host interface');
  assert.is(reply!.readUInt32BE(28), ip('192.168.65.1'), 'for the gateway address');
  assert.is(hi.info().framesIn, 1);
  assert.is(hi.info().framesOut, 1);
});

test('an address in the DHCP pool is reserved for the interface while it exists, then released', async () => {
  const net = network();
  const hi = (await attachHostInterface(net, SPEC, fakeOs().env))._unsafeUnwrap();
  assert.ok(hi.reservedFromPool);
  assert.equal(net.dhcp.pool.reservations(), [{ key: 'mac:02:76:00:00:00:03', ip: ip('192.168.65.3') }]);
  // A guest asking DHCP for that address is refused it.
  assert.is(net.dhcp.pool.bind(0x020000000099, ip('192.168.65.3'), 3600, undefined)._unsafeUnwrapErr().reason, 'in-use');
  // And DHCP hands out the addresses around it, never it.
  const offered = [1, 2, 3].map((i) => net.dhcp.pool.offer(0x020000000010 + i, 0, undefined)._unsafeUnwrap().ip);
  assert.equal(offered, [ip('192.168.65.2'), ip('192.168.65.4'), ip('192.168.65.5')]);
  await hi.close();
  assert.equal(net.dhcp.pool.reservations(), []);
});

test('an address outside the pool is used as is, without a reservation', async () => {
  const net = network({ lowestIp: '192.168.65.100', highestIp: '192.168.65.200' });
  const hi = (await attachHostInterface(net, SPEC, fakeOs().env))._unsafeUnwrap();
  assert.not.ok(hi.reservedFromPool);
  assert.equal(net.dhcp.pool.reservations(), []);
});

test('an address a guest holds is refused before anything is created: leased, or seen on the wire', async () => {
  const net = network();
  net.dhcp.pool.bind(0x020000000099, ip('192.168.65.3'), 3600, undefined)._unsafeUnwrap();
  const os = fakeOs();
  const leased = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrapErr();
  assert.is(leased.kind, 'address-in-use');
  assert.match(leased.message, /192\.168\.65\.3 cannot be reserved.*leased/);
  net.neighbours.learn(ip('192.168.65.4'), 0x020000000098);
  const seen = (await attachHostInterface(net, { ...SPEC, address: '192.168.65.4/24' }, os.env))._unsafeUnwrapErr();
  assert.is(seen.kind, 'address-in-use');
  assert.match(seen.message, /in use by a guest \(02:00:00:00:00:98\)/);
  assert.equal(os.calls, [], 'no ip command ran');
  assert.is(os.taps.length, 0);
});

test('one host interface per network; a second (or concurrent) attach is already-attached', async () => {
  const net = network();
  const os = fakeOs();
  const [a, b] = await Promise.all([attachHostInterface(net, SPEC, os.env), attachHostInterface(net, { ...SPEC, name: 'vnk1', address: '192.168.65.5/24' }, os.env)]);
  assert.ok(a.isOk());
  assert.is(b._unsafeUnwrapErr().kind, 'already-attached');
  const c = (await attachHostInterface(net, { ...SPEC, name: 'vnk1', address: '192.168.65.5/24' }, os.env))._unsafeUnwrapErr();
  assert.is(c.kind, 'already-attached');
  assert.match(c.message, /\(vnk0\)/);
});

test('each cause of failure has its kind: platform, addon, permission, name taken, no tun', async () => {
  const net = network();
  const kind = async (env: HostInterfaceEnv) => (await attachHostInterface(net, SPEC, env))._unsafeUnwrapErr();
  assert.is((await kind({ ...fakeOs().env, platform: 'darwin' })).kind, 'unsupported-platform');
  const native = await kind(fakeOs(undefined, vnetError('native-unavailable', 'the native addon is not built; run `npm run build:native`')).env);
  assert.is(native.kind, 'native-unavailable');
  assert.match(native.message, /npm run build:native/);
  const eperm = await kind(fakeOs(undefined, osError('openTap', uvCode('EPERM'))).env);
  assert.is(eperm.kind, 'not-permitted');
  assert.match(eperm.message, /CAP_NET_ADMIN/);
  assert.is((await kind(fakeOs(undefined, osError('openTap', uvCode('EBUSY'))).env)).kind, 'interface-exists');
  assert.is((await kind(fakeOs(undefined, osError('openTap', uvCode('ENOENT'))).env)).kind, 'tun-unavailable');
  const taken = await kind(fakeOs((a) => (a[1] === 'show' ? { exitCode: 0, stdout: '3: vnk0: <BROADCAST>' } : undefined)).env);
  assert.is(taken.kind, 'interface-exists');
  assert.is((await kind(fakeOs(() => ({ exitCode: undefined, spawnError: 'ENOENT' })).env)).kind, 'ip-unavailable');
  assert.equal(net.dhcp.pool.reservations(), [], 'every failure released the reservation');
  assert.is(net.switch.allPorts().length, 1, 'only the gateway is on the bridge');
});

/** Fails the step whose argv starts with `prefix` and checks that everything was undone. */
async function failsAndRollsBack(prefix: string, answer: Partial<IpOutcome>, kind: string): Promise<void> {
  const net = network();
  const os = fakeOs((a) => (a.join(' ').startsWith(prefix) ? answer : undefined));
  const e = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrapErr();
  assert.is(e.kind, kind, `${prefix}: ${e.message}`);
  assert.is(os.taps.length, 1);
  assert.ok(os.taps[0]!.closed, `${prefix}: the TAP was closed (which deletes it and its routes)`);
  assert.is(net.switch.allPorts().length, 1, `${prefix}: the port was detached`);
  assert.equal(net.dhcp.pool.reservations(), [], `${prefix}: the reservation was released`);
  assert.is(hostInterfaceOf(net), undefined);
  // And the network can try again.
  assert.ok((await attachHostInterface(net, SPEC, fakeOs().env)).isOk(), `${prefix}: a later attach works`);
}

test('a failure at any step after the TAP exists undoes everything', async () => {
  await failsAndRollsBack('link set dev vnk0 address', { exitCode: 2, stderr: 'RTNETLINK answers: Operation not permitted' }, 'not-permitted');
  await failsAndRollsBack('addr add', { exitCode: 2, stderr: 'Error: ipv4: Address already assigned.' }, 'address-in-use');
  await failsAndRollsBack('link set dev vnk0 up', { exitCode: 2, stderr: 'Error: odd.' }, 'config-failed');
  await failsAndRollsBack('route add', { exitCode: 2, stderr: 'RTNETLINK answers: File exists' }, 'bad-route');
  await failsAndRollsBack('route get', { exitCode: 0, stdout: '192.168.65.1 dev eth0 src 192.168.65.77 uid 0\n' }, 'subnet-conflict');
});

test('close() detaches the port, closes the TAP, and confirms the device is gone', async () => {
  const net = network();
  const os = fakeOs();
  const hi = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  os.calls.length = 0;
  await hi.close();
  await hi.close();
  assert.ok(hi.closed);
  assert.ok(os.taps[0]!.closed);
  assert.is(net.switch.allPorts().length, 1);
  assert.is(hostInterfaceOf(net), undefined);
  assert.equal(os.calls, ['link show dev vnk0'], 'checked once, nothing left to delete');
});

test('a device that survives close is deleted explicitly', async () => {
  const net = network();
  const os = fakeOs();
  const hi = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  os.device.persistent = true;
  os.calls.length = 0;
  await hi.close();
  assert.equal(os.calls, ['link show dev vnk0', 'link delete dev vnk0']);
});

test('closing the network closes its host interface; attaching afterwards is network-closed', async () => {
  const net = network();
  const os = fakeOs();
  const hi = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  await net.close();
  assert.ok(hi.closed);
  assert.ok(os.taps[0]!.closed);
  assert.equal(net.dhcp.pool.reservations(), []);
  assert.is((await attachHostInterface(net, SPEC, os.env))._unsafeUnwrapErr().kind, 'network-closed');
});

test('a network closing during an attach rolls the attach back and close() waits for it', async () => {
  const net = network();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const os = fakeOs();
  const slowIp: HostInterfaceEnv['ip'] = async (args) => {
    if (args[0] === 'addr') await gate;
    return os.env.ip!(args);
  };
  const attaching = attachHostInterface(net, SPEC, { ...os.env, ip: slowIp });
  await new Promise((r) => setImmediate(r));
  const closing = net.close();
  release();
  await closing;
  const e = (await attaching)._unsafeUnwrapErr();
  assert.is(e.kind, 'network-closed');
  assert.ok(os.taps[0]!.closed);
  assert.is(net.switch.allPorts().length, 1);
});

test('a facade that closes host interfaces itself is not chained onto', async () => {
  const net = network();
  Object.defineProperty(net, 'closesHostInterfaces', { value: true });
  const own = net.close;
  (await attachHostInterface(net, SPEC, fakeOs().env))._unsafeUnwrap();
  assert.is(net.close, own);
  await closeHostInterfaces(net);
  assert.is(hostInterfaceOf(net), undefined);
});

test('the device vanishing (ip link del, read error) releases the interface like a vanished NIC', async () => {
  const net = network();
  const os = fakeOs();
  const hi = (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  os.taps[0]!.vanish();
  assert.ok(hi.closed);
  assert.is(hostInterfaceOf(net), undefined);
  assert.is(net.switch.allPorts().length, 1);
  assert.equal(net.dhcp.pool.reservations(), []);
});

test('detachHostInterface closes by name; an unknown name is not-found', async () => {
  const net = network();
  const os = fakeOs();
  (await attachHostInterface(net, SPEC, os.env))._unsafeUnwrap();
  assert.is((await detachHostInterface(net, 'nope'))._unsafeUnwrapErr().kind, 'not-found');
  assert.ok((await detachHostInterface(net, 'vnk0')).isOk());
  assert.ok(os.taps[0]!.closed);
  assert.is((await detachHostInterface(net, 'vnk0'))._unsafeUnwrapErr().kind, 'not-found');
});

test.run();
