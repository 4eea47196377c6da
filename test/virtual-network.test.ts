import dnsPacket from 'dns-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../src/runtime/rng.js';
import { ManualScheduler } from '../src/runtime/scheduler.js';
import { VirtualNetwork } from '../src/virtual-network.js';
import type { NetworkOptions } from '../src/options.js';
import type { DnsQueryEvent } from '../src/services/dns/index.js';
import { CapturePort } from './harness/capture-port.js';
import { udpPacket } from './harness/frames.js';

const GW_MAC = 'f6:16:36:bc:f9:c6';
const G1 = '02:00:00:00:00:10';

function make(o: NetworkOptions = {}) {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ dnsUpstreams: ['127.0.0.1:9'], ...o, runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(3) } })._unsafeUnwrap();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  return { net, nic, send: (f: Buffer) => net.switch.input(nic, f, 0, f.length) };
}

const query = (name: string): Buffer => dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });

test('bad options fail create with the option named', () => {
  for (const [o, option] of [
    [{ subnet: '10.0.0.0/33' }, 'subnet'],
    [{ mtu: 70000 }, 'mtu'],
    [{ gatewayIp: '10.9.9.1' }, 'gatewayIp'],
    [{ hostResolver: 'sometimes' as unknown as boolean }, 'hostResolver'],
    [{ reservations: [{ mac: '02:00:00:00:00:01', ip: '192.168.65.1' }] }, 'reservations'],
    [{ dnsUpstreams: ['nonsense'] }, 'dnsUpstreams'],
  ] as const) {
    const e = VirtualNetwork.create(o as NetworkOptions)._unsafeUnwrapErr();
    assert.is(e.kind, 'invalid-option');
    assert.is((e as { option: string }).option, option, JSON.stringify(o));
  }
});

test('hostResolver selects the DNS mode', async () => {
  const off = make({ hostResolver: false });
  assert.is(off.net.dns.mode, 'upstream');
  await off.net.close();
  const on = make({ hostResolver: true });
  assert.is(on.net.dns.mode, 'host-resolver');
  await on.net.close();
});

test('dns-query events reach listeners, and a built-in name is answered locally', async () => {
  const { net, nic, send } = make();
  const events: DnsQueryEvent[] = [];
  net.on('dns-query', (e) => events.push(e));
  send(udpPacket(GW_MAC, G1, '192.168.65.10', 5353, '192.168.65.1', 53, query('host.internal')));
  await new Promise((r) => setImmediate(r));
  const reply = nic.take().find((f) => f.readUInt16BE(34) === 53);
  assert.ok(reply, 'an answer came back');
  const ans = dnsPacket.decode(reply!.subarray(42));
  assert.equal(ans.answers?.map((a) => (a as { data: unknown }).data), ['192.168.65.254']);
  assert.is(events.length, 1);
  assert.is(events[0]!.name, 'host.internal');
  assert.is(events[0]!.via, 'local');
  await net.close();
});

test('reserve validates its argument and leases() lists bound leases only', async () => {
  const { net } = make();
  assert.is(net.reserve({ ip: 'x', mac: '02:00:00:00:00:01' })._unsafeUnwrapErr().kind, 'invalid-address');
  assert.is(net.reserve({ ip: '192.168.65.9' })._unsafeUnwrapErr().kind, 'invalid-argument');
  assert.ok(net.reserve({ ip: '192.168.65.9', mac: '02:00:00:00:00:01' }).isOk());
  assert.equal(net.leases(), []);
  await net.close();
});

test('close is idempotent and refuses new listeners afterwards', async () => {
  const { net } = make();
  await net.close();
  await net.close();
  const r = await net.listenQemu('/tmp/vnk-never.sock');
  assert.is(r._unsafeUnwrapErr().kind, 'network-closed');
});

test('with the host-loopback alias disabled the network starts and host names do not resolve', async () => {
  const { net, nic, send } = make({ hostIp: false });
  assert.is(net.options.hostIp, -1);
  send(udpPacket(GW_MAC, G1, '192.168.65.10', 5353, '192.168.65.1', 53, query('host.internal')));
  await new Promise((r) => setImmediate(r));
  const reply = nic.take().find((f) => f.readUInt16BE(34) === 53);
  assert.ok(reply);
  assert.is(dnsPacket.decode(reply!.subarray(42)).answers?.length ?? 0, 0);
  await net.close();
});

test.run();
