import dnsPacket from 'dns-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../src/runtime/rng.js';
import { ManualScheduler } from '../src/runtime/scheduler.js';
import { VirtualNetwork } from '../src/virtual-network.js';
import type { NetworkOptions } from '../src/options.js';
import type { DnsQueryEvent } from '../src/services/dns/index.js';
import { CapturePort } from './harness/capture-port.js';
import { duplexPair } from './harness/duplex-pair.js';
import { tcpPacket, udpPacket } from './harness/frames.js';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import type { LeaseEvent } from '../src/events.js';
import { clientFrame, decodeReply, discover, requestSelecting } from './services/dhcp/helpers.js';

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

test('leases() gives expiresAt in ms since the epoch, the same instant as the lease event', async () => {
  const { net, nic, send } = make();
  const events: LeaseEvent[] = [];
  net.on('lease', (e) => events.push(e));
  const mac = 0x020000000010;
  const dhcp = async (f: Uint8Array) => {
    send(Buffer.from(f));
    await new Promise((r) => setImmediate(r));
    return nic.take().filter((x) => x.readUInt16BE(12) === 0x0800 && x.readUInt16BE(36) === 68).map(decodeReply);
  };
  const [offer] = await dhcp(clientFrame(discover(mac)));
  assert.ok(offer, 'an OFFER');
  const [ack] = await dhcp(clientFrame(requestSelecting(mac, offer!.msg.yiaddr)));
  assert.ok(ack, 'an ACK');
  const before = Date.now();
  const [lease] = net.leases();
  assert.is(lease!.ip, '192.168.65.2');
  assert.is(events.length, 1);
  // Both read the wall clock when asked: the same instant, give or take the millisecond between reads.
  assert.ok(Math.abs(lease!.expiresAt - events[0]!.expiresAt) <= 2, `${lease!.expiresAt} vs ${events[0]!.expiresAt}`);
  // An hour from now on the wall clock (the manual clock does not move meanwhile).
  assert.ok(Math.abs(lease!.expiresAt - (before + 3_600_000)) < 5_000, `expiresAt ${lease!.expiresAt} vs now ${before}`);
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

test('guests reach host loopback only through the alias: TCP and UDP straight to 127/8 or 0/8 are refused and never leave, with or without the alias', async () => {
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const udp = createSocket('udp4');
  let datagrams = 0;
  udp.on('message', () => datagrams++);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const udpPort = udp.address().port;
  const nets: VirtualNetwork[] = [];
  try {
    for (const o of [{ allow: ['127.0.0.0/8'] }, { hostIp: false as const }]) {
      const { net, nic, send } = make(o);
      nets.push(net);
      let sport = 41000;
      for (const dst of ['127.0.0.1', '127.9.9.9', '0.0.0.0']) {
        send(tcpPacket(GW_MAC, G1, '192.168.65.10', sport++, dst, port, 0x02, 1000));
        const rst = nic.take().find((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 6 && (f[47]! & 0x04) !== 0);
        assert.ok(rst, `${JSON.stringify(o)}: SYN to ${dst} refused with RST at once`);
        send(udpPacket(GW_MAC, G1, '192.168.65.10', sport++, dst, udpPort, Buffer.from('leak?')));
        const icmp = nic.take().find((f) => f[23] === 1);
        assert.ok(icmp, `${JSON.stringify(o)}: UDP to ${dst} answered by ICMP`);
        assert.equal([icmp![34], icmp![35]], [3, 13], 'admin-prohibited');
      }
      assert.is(net.stats().tcp.outbound.denied, 3);
      assert.is(net.stats().udp.denied, 3);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.is(accepted, 0, 'no host connection was made');
    assert.is(datagrams, 0, 'no datagram reached the host');
  } finally {
    // A failure above must not leave sockets that keep the test process alive.
    for (const n of nets) await n.close();
    server.close();
    udp.close();
  }
});

test('maxTcpFlows: a guest connection over the limit is refused with RST and counted', async () => {
  const server = createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const { net, nic, send } = make({ allow: ['127.0.0.0/8'], maxTcpFlows: 1 });
  send(tcpPacket(GW_MAC, G1, '192.168.65.10', 40001, '192.168.65.254', port, 0x02, 1000));
  const deadline = Date.now() + 5000;
  while (!nic.frames.some((f) => f[47] === 0x12) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(nic.take().some((f) => f[47] === 0x12), 'the first SYN got a SYN-ACK once the host accepted');
  send(tcpPacket(GW_MAC, G1, '192.168.65.10', 40002, '192.168.65.254', port, 0x02, 2000));
  const rst = nic.take().find((f) => (f[47]! & 0x04) !== 0);
  assert.ok(rst, 'the second SYN was refused at once');
  assert.is(net.stats().tcp.outbound.limited, 1);
  await net.close();
  server.close();
});

test('hostLoopback: false is the same as hostIp: false', async () => {
  const { net } = make({ hostLoopback: false });
  assert.is(net.options.hostIp, -1);
  await net.close();
  assert.is(VirtualNetwork.create({ hostLoopback: false, hostIp: '192.168.65.200' })._unsafeUnwrapErr().kind, 'invalid-option');
});

test('a QEMU NIC reports the MAC of its frames once it sent one', async () => {
  const { net } = make();
  const [ours, theirs] = duplexPair();
  const nic = net.attach(ours, { framing: 'qemu' })._unsafeUnwrap();
  assert.is(net.nicStats()[0]!.mac, undefined, 'unknown before any frame');
  const f = udpPacket(GW_MAC, G1, '192.168.65.10', 5353, '192.168.65.1', 53, query('gateway.internal'));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(f.length);
  theirs.write(Buffer.concat([prefix, f]));
  while (nic.mac < 0) await new Promise((r) => setImmediate(r));
  assert.is(net.nicStats()[0]!.mac, G1);
  await net.close();
});

test('a QEMU NIC survives a frame over its maximum: dropped as tooBig, the next frame is answered', async () => {
  const { net } = make();
  const events: string[] = [];
  net.on('error', (e) => events.push(`error ${e.kind}: ${e.message}`));
  net.on('nic-detached', (e) => events.push(`nic-detached ${e.reason}`));
  const [ours, theirs] = duplexPair();
  net.attach(ours, { framing: 'qemu' })._unsafeUnwrap();
  const replies: Buffer[] = [];
  theirs.on('data', (c: Buffer) => replies.push(c));
  const framed = (f: Buffer): Buffer => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(f.length);
    return Buffer.concat([prefix, f]);
  };
  // A full-size frame with an 802.1Q tag: 1518 bytes on a 1500-byte MTU (maximum 1514).
  const tagged = Buffer.alloc(1518, 0x5a);
  const dnsFrame = framed(udpPacket(GW_MAC, G1, '192.168.65.10', 5353, '192.168.65.1', 53, query('gateway.internal')));
  const stream = Buffer.concat([framed(tagged), dnsFrame]);
  theirs.write(stream.subarray(0, 700));
  theirs.write(stream.subarray(700));
  for (let i = 0; i < 50 && replies.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.ok(replies.length > 0, 'the DNS query after the oversized frame is answered');
  assert.equal(events, []);
  const nic = net.nicStats()[0]!;
  assert.equal(nic.drops, { tooBig: 1 });
  assert.is(nic.framesIn, 2);
  await net.close();
});

/** A QEMU NIC on an in-memory stream: `send` writes a frame as the guest, `frames` has what it received. */
function qemuGuest(net: VirtualNetwork) {
  const [ours, theirs] = duplexPair();
  const nic = net.attach(ours, { framing: 'qemu' })._unsafeUnwrap();
  const frames: Buffer[] = [];
  let acc = Buffer.alloc(0);
  theirs.on('data', (c: Buffer) => {
    acc = Buffer.concat([acc, c]);
    while (acc.length >= 4 && acc.length >= 4 + acc.readUInt32BE(0)) {
      const n = acc.readUInt32BE(0);
      frames.push(Buffer.from(acc.subarray(4, 4 + n)));
      acc = acc.subarray(4 + n);
    }
  });
  const send = (f: Buffer): void => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(f.length);
    theirs.write(Buffer.concat([prefix, f]));
  };
  return { nic, send, frames };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) assert.unreachable(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test("per-NIC open flows: tcpFlows and udpFlows count under their guest's NIC, 0 → 1 → 0, and nowhere once its address maps to no NIC", async () => {
  const server = createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const udp = createSocket('udp4');
  const got: string[] = [];
  udp.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const udpPort = udp.address().port;
  const { net } = make({ allow: ['127.0.0.0/8'] });
  try {
    const a = qemuGuest(net);
    const b = qemuGuest(net);
    const G2 = '02:00:00:00:00:11';
    const flows = (id: number) => {
      const n = net.nicStats().find((x) => x.id === id)!;
      return { tcp: n.tcpFlows, udp: n.udpFlows, icmp: n.icmpFlows };
    };
    const none = { tcp: 0, udp: 0, icmp: 0 };
    // Both guests are known on the bridge (a DNS query each) and have no flows yet.
    a.send(udpPacket(GW_MAC, G1, '192.168.65.10', 5353, '192.168.65.1', 53, query('gateway.internal')));
    b.send(udpPacket(GW_MAC, G2, '192.168.65.11', 5353, '192.168.65.1', 53, query('gateway.internal')));
    await until(() => net.switch.macs.size === 2, 'both MACs learnt');
    assert.equal(flows(a.nic.id), none);
    assert.equal(flows(b.nic.id), none);

    // TCP from guest A to the host-loopback alias: counted while the host connect is pending and once open.
    a.send(tcpPacket(GW_MAC, G1, '192.168.65.10', 40001, '192.168.65.254', port, 0x02, 1000));
    await until(() => net.stats().tcp.outbound.pending + net.stats().tcp.outbound.open === 1, 'the SYN reached the NAT');
    assert.equal(flows(a.nic.id), { ...none, tcp: 1 }, 'pending or open: one flow on A');
    await until(() => net.stats().tcp.outbound.open === 1, 'the host accepted');
    assert.equal(flows(a.nic.id), { ...none, tcp: 1 });
    assert.equal(flows(b.nic.id), none, 'B has none of it');
    const viaStats = net.stats().nics.find((n) => n.id === a.nic.id)!;
    assert.is(viaStats.tcpFlows, 1, 'stats().nics says the same');

    // UDP from guest B to the alias: a NAT flow on B only.
    b.send(udpPacket(GW_MAC, G2, '192.168.65.11', 5000, '192.168.65.254', udpPort, Buffer.from('hello')));
    await until(() => got.length === 1, 'the datagram reached the host');
    assert.equal(flows(b.nic.id), { ...none, udp: 1 });
    assert.equal(flows(a.nic.id), { ...none, tcp: 1 });

    // A resets its connection: 0 again.
    a.send(tcpPacket(GW_MAC, G1, '192.168.65.10', 40001, '192.168.65.254', port, 0x04, 1001));
    await until(() => net.stats().tcp.outbound.open === 0, 'the flow closed');
    assert.equal(flows(a.nic.id), none);

    // B's UDP flow idles out (60 s): 0 again.
    (net.runtime.scheduler as ManualScheduler).advance(61_000);
    assert.is(net.stats().udp.flows, 0);
    assert.equal(flows(b.nic.id), none);

    // A flow whose guest address maps to no NIC any more is counted under none (the totals keep it).
    b.send(udpPacket(GW_MAC, G2, '192.168.65.11', 5001, '192.168.65.254', udpPort, Buffer.from('again')));
    await until(() => got.length === 2, 'the second datagram reached the host');
    assert.is(flows(b.nic.id).udp, 1);
    net.neighbours.forget(0xc0a8410b);
    assert.is(net.stats().udp.flows, 1);
    assert.equal(flows(b.nic.id), none);
    assert.equal(flows(a.nic.id), none);
  } finally {
    await net.close();
    server.close();
    udp.close();
  }
});

test('an idle guest is still found when its NIC goes: stats polls and aged caches do not let its flows outlive the NIC', async () => {
  let hostClosed = 0;
  const server = createServer((s) => {
    s.on('error', () => {});
    s.on('close', () => hostClosed++);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const { net } = make({ allow: ['127.0.0.0/8'] });
  try {
    const a = qemuGuest(net);
    a.send(tcpPacket(GW_MAC, G1, '192.168.65.10', 40001, '192.168.65.254', port, 0x02, 1000));
    const isSynAck = (f: Buffer): boolean => f[23] === 6 && (f[47]! & 0x12) === 0x12;
    await until(() => a.frames.some(isSynAck), 'the SYN-ACK');
    const iss = a.frames.find(isSynAck)!.readUInt32BE(38);
    a.send(tcpPacket(GW_MAC, G1, '192.168.65.10', 40001, '192.168.65.254', port, 0x10, 1001, (iss + 1) >>> 0));
    await until(() => net.stats().tcp.endpoint.byState.ESTABLISHED === 1, 'established');
    // The guest is quiet for 11 minutes: past MAC ageing (5 min) and the neighbour TTL (10 min).
    (net.runtime.scheduler as ManualScheduler).advance(660_000);
    // A dashboard polls; the flow is still the guest's.
    assert.is(net.nicStats()[0]!.tcpFlows, 1);
    assert.is(net.stats().nics[0]!.tcpFlows, 1);
    // The data path asks for the guest too (e.g. something to send it); that must not forget it either.
    assert.is(net.neighbours.lookup(0xc0a8410a), -1, 'expired for sending');
    a.nic.close('VM shut down');
    await until(() => net.stats().tcp.outbound.open === 0, 'the NIC detach freed the flow');
    await until(() => hostClosed === 1, 'the host socket closed');
  } finally {
    await net.close();
    server.close();
  }
});

test.run();
