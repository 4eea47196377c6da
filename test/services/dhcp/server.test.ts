import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIpv4, BROADCAST_MAC } from '../../../src/wire/address.js';
import { u48be } from '../../../src/wire/bytes.js';
import { DhcpMessageType as T } from '../../../src/wire/dhcp.js';
import {
  BOOTP_BROADCAST_FLAG,
  clientFrame,
  decodeReply,
  dhcpBytes,
  discover,
  EPOCH,
  GATEWAY,
  GATEWAY_MAC,
  ip,
  makeNet,
  O,
  opt,
  requestSelecting,
  udpFrame,
  type GuestPort,
  type Net,
  type Reply,
} from './helpers.js';

const A = 0x0200000000a1;
const B = 0x0200000000b2;
const C = 0x0200000000c3;
const UDHCPC_PRL = [1, 3, 6, 12, 15, 28, 42]; // a udhcpc-like list (no 26, no 119) plus 42, which we do not serve

/** Sends `frame` from `port` and returns the server's replies it received (other guests' broadcasts are ignored). */
function exchange(net: Net, port: GuestPort, frame: Uint8Array): Reply[] {
  net.send(port, frame);
  return port
    .take()
    .filter((f) => u48be(f, 6) === GATEWAY_MAC)
    .map(decodeReply);
}

/** DISCOVER → OFFER → REQUEST → ACK; returns the ACK. */
function dora(net: Net, port: GuestPort, extra: ReturnType<typeof opt.u8>[] = []): Reply {
  const [offer] = exchange(net, port, clientFrame(discover(port.mac, extra)));
  assert.ok(offer !== undefined && offer.type === T.Offer, 'an OFFER');
  const [ack] = exchange(net, port, clientFrame(requestSelecting(port.mac, offer!.msg.yiaddr, extra)));
  assert.ok(ack !== undefined && ack.type === T.Ack, 'an ACK');
  return ack!;
}

// ---------------------------------------------------------------------------------------------
const full = suite('DISCOVER, OFFER, REQUEST, ACK');

full('a full exchange: fields, options in request-list order, unicast to yiaddr at chaddr', () => {
  const net = makeNet({ server: { domainName: 'vnet.test', searchDomains: ['vnet.test', 'corp.example'] } });
  const g = net.guest(A);
  const prl = opt.bytes(O.ParameterRequestList, Uint8Array.from([...UDHCPC_PRL, 119]));
  const [offer] = exchange(net, g, clientFrame(discover(A, [prl, opt.text(O.HostName, 'alpha')], { xid: 0xcafe0001 })));
  assert.ok(offer);
  const o = offer!;
  assert.equal([o.ethSrc, o.ethDst, formatIpv4(o.ipSrc), formatIpv4(o.ipDst), o.srcPort, o.dstPort], [GATEWAY_MAC, A, '192.168.65.1', '192.168.65.2', 67, 68]);
  assert.equal([o.msg.op, o.msg.xid, o.msg.yiaddr, o.msg.ciaddr, o.msg.siaddr, o.msg.giaddr, o.msg.chaddr, o.msg.flags], [2, 0xcafe0001, ip('2'), 0, 0, 0, A, 0]);
  assert.ok(o.udpLen - 8 >= 300, 'BOOTP minimum size');
  // 53, 54, lease fields; then the request list's order (12 and 42 we do not serve); then the essential 26.
  assert.equal(o.codes, [53, 54, 51, 58, 59, 1, 3, 6, 15, 28, 119, 26]);
  assert.equal([o.u32(O.ServerIdentifier), o.u32(O.SubnetMask), o.u32(O.Router), o.u32(O.DomainNameServer), o.u32(O.BroadcastAddress)].map((x) => formatIpv4(x!)), [
    '192.168.65.1',
    '255.255.255.0',
    '192.168.65.1',
    '192.168.65.1',
    '192.168.65.255',
  ]);
  assert.equal([o.u32(O.LeaseTime), o.u32(O.RenewalTime), o.u32(O.RebindingTime)], [3600, 1800, 3150]);
  assert.equal([...o.get(O.InterfaceMtu)!], [0x05, 0xdc]);
  assert.is(Buffer.from(o.get(O.DomainName)!).toString(), 'vnet.test');
  assert.equal([...o.get(O.DomainSearch)!.subarray(0, 6)], [4, 0x76, 0x6e, 0x65, 0x74, 4]);
  assert.equal(net.leases, [], 'an offer is no lease');

  const [ack] = exchange(net, g, clientFrame(requestSelecting(A, o.msg.yiaddr, [prl, opt.text(O.HostName, 'alpha')], { xid: 0xcafe0002 })));
  assert.equal([ack!.type, ack!.msg.xid, ack!.msg.yiaddr, ack!.ethDst, ack!.ipDst], [T.Ack, 0xcafe0002, ip('2'), A, ip('2')]);
  assert.equal(ack!.codes, o.codes);
  assert.equal(net.leases, [{ ip: '192.168.65.2', mac: '02:00:00:00:00:a1', hostname: 'alpha', expiresAt: EPOCH + 3_600_000 }]);
  assert.is(net.neighbours.lookup(ip('2')), A, 'the neighbour cache learnt the address');
  assert.equal(net.server.stats, { discovers: 1, offers: 1, requests: 1, acks: 1, naks: 0, declines: 0, releases: 0, informs: 0, dropped: 0 });
});

full('the broadcast flag makes replies broadcast; no request list still gets 1, 3, 6, 26', () => {
  const net = makeNet();
  const g = net.guest(A);
  const [o] = exchange(net, g, clientFrame(discover(A, [], { flags: BOOTP_BROADCAST_FLAG })));
  assert.equal([o!.ethDst, o!.ipDst, o!.msg.flags], [BROADCAST_MAC, 0xffffffff, BOOTP_BROADCAST_FLAG]);
  assert.equal(o!.codes, [53, 54, 51, 58, 59, 1, 3, 6, 26]);
});

full('three guests get .2, .3, .4 in order; a reserved MAC gets its fixed address', () => {
  const net = makeNet();
  net.pool.reserve({ mac: '02:00:00:00:00:dd' }, ip('100'))._unsafeUnwrap();
  const got = [A, B, C, 0x0200000000dd].map((m) => formatIpv4(dora(net, net.guest(m)).msg.yiaddr));
  assert.equal(got, ['192.168.65.2', '192.168.65.3', '192.168.65.4', '192.168.65.100']);
});

full('a requested lease time is honoured up to the maximum', () => {
  const net = makeNet({ pool: { leaseTimeSec: 600, maxLeaseTimeSec: 7200 } });
  const g = net.guest(A);
  assert.is(dora(net, g, [opt.u32(O.LeaseTime, 120)]).u32(O.LeaseTime), 120);
  assert.is(dora(net, g, [opt.u32(O.LeaseTime, 999_999)]).u32(O.LeaseTime), 7200);
  assert.is(dora(net, g).u32(O.LeaseTime), 600);
});

full('a client that chose another server: no reply, and our offer is withdrawn', () => {
  const net = makeNet();
  const g = net.guest(A);
  const [o] = exchange(net, g, clientFrame(discover(A)));
  const other = { mac: A, options: [opt.u8(O.MessageType, 3), opt.ips(O.ServerIdentifier, [ip('77')]), opt.ips(O.RequestedIpAddress, [ip('99')])] };
  assert.equal(exchange(net, g, clientFrame(other)), []);
  assert.is(net.pool.leaseAt(o!.msg.yiaddr)!.state, 'inactive');
  assert.equal(net.errors, []);
});

full('an exhausted pool: no offer, an error event, others keep their leases', () => {
  const net = makeNet({ pool: { lowestIp: ip('2'), highestIp: ip('2') } });
  dora(net, net.guest(A));
  const g = net.guest(B);
  assert.equal(exchange(net, g, clientFrame(discover(B))), []);
  assert.equal(net.errors.map((e) => [e.kind, e.message]), [['pool-exhausted', 'No IP addresses available for 02:00:00:00:00:b2.']]);
  assert.is(net.pool.leaseOf(A)!.state, 'bound');
});

// ---------------------------------------------------------------------------------------------
const later = suite('RENEWING, REBINDING, INIT-REBOOT (RFC 2131 §4.3.2)');

later('renewing: unicast with ciaddr → ACK unicast to ciaddr; the lease moves forward', () => {
  const net = makeNet();
  const g = net.guest(A);
  dora(net, g);
  net.sched.advance(1_800_000);
  const renew = { mac: A, ciaddr: ip('2'), options: [opt.u8(O.MessageType, 3)] };
  const [ack] = exchange(net, g, clientFrame(renew, { dst: GATEWAY, dstMac: GATEWAY_MAC }));
  assert.equal([ack!.type, ack!.msg.ciaddr, ack!.msg.yiaddr, ack!.ipDst, ack!.ethDst], [T.Ack, ip('2'), ip('2'), ip('2'), A]);
  assert.is(net.leases.at(-1)!.expiresAt, EPOCH + 1_800_000 + 3_600_000);
});

later('rebinding: broadcast with ciaddr → ACK', () => {
  const net = makeNet();
  const g = net.guest(A);
  dora(net, g);
  net.sched.advance(3_200_000);
  const [ack] = exchange(net, g, clientFrame({ mac: A, ciaddr: ip('2'), options: [opt.u8(O.MessageType, 3)] }));
  assert.is(ack!.type, T.Ack);
  assert.is(net.pool.leaseOf(A)!.expiresAt, 3_200_000 + 3_600_000);
});

later('renewing someone else\'s address → NAK, broadcast, with a reason; an error event follows', () => {
  const net = makeNet();
  dora(net, net.guest(A));
  const g = net.guest(B);
  const [nak] = exchange(net, g, clientFrame({ mac: B, ciaddr: ip('2'), options: [opt.u8(O.MessageType, 3)] }));
  assert.equal([nak!.type, nak!.ethDst, nak!.ipDst, nak!.msg.yiaddr, nak!.msg.ciaddr], [T.Nak, BROADCAST_MAC, 0xffffffff, 0, 0]);
  assert.equal(nak!.codes, [53, 54, 56]);
  assert.is(Buffer.from(nak!.get(O.Message)!).toString(), '192.168.65.2 is in use by another client');
  assert.equal(net.errors.map((e) => e.kind === 'dhcp-nak' && [e.reason, e.ip, e.mac]), [['in-use', '192.168.65.2', '02:00:00:00:00:b2']]);
  assert.is(net.pool.leaseOf(A)!.state, 'bound', 'the holder keeps its lease');
});

later('init-reboot: its own address → ACK; a wrong address or wrong subnet → NAK', () => {
  const net = makeNet();
  const g = net.guest(A);
  dora(net, g);
  // INIT-REBOOT: option 50, no server identifier, ciaddr 0.
  const reboot = (want: number): Reply => exchange(net, g, clientFrame({ mac: A, options: [opt.u8(O.MessageType, 3), opt.ips(O.RequestedIpAddress, [want])] }))[0]!;
  assert.is(reboot(ip('2')).type, T.Ack);
  const nak = reboot(ip('7'));
  assert.is(nak.type, T.Nak);
  assert.is(Buffer.from(nak.get(O.Message)!).toString(), '192.168.65.7 is not your address (yours is 192.168.65.2)');
  assert.is(reboot(0x0a000205).type, T.Nak, '10.0.2.5: another network');
  assert.equal(net.errors.map((e) => (e.kind === 'dhcp-nak' ? e.reason : e.kind)), ['not-yours', 'wrong-subnet']);
  assert.is(net.pool.leaseOf(A)!.ip, ip('2'));
});

later('init-reboot of an unknown client for a free address is ACKed (authoritative, e.g. after a restart)', () => {
  const net = makeNet();
  const g = net.guest(A);
  const [ack] = exchange(net, g, clientFrame({ mac: A, options: [opt.u8(O.MessageType, 3), opt.ips(O.RequestedIpAddress, [ip('42')])] }));
  assert.equal([ack!.type, ack!.msg.yiaddr], [T.Ack, ip('42')]);
});

later('a reserved client renewing its old address is NAKed and then gets its reservation', () => {
  const net = makeNet();
  const g = net.guest(A);
  dora(net, g);
  net.pool.reserve({ mac: A }, ip('50'))._unsafeUnwrap();
  const [nak] = exchange(net, g, clientFrame({ mac: A, ciaddr: ip('2'), options: [opt.u8(O.MessageType, 3)] }, { dst: GATEWAY, dstMac: GATEWAY_MAC }));
  assert.is(nak!.type, T.Nak);
  assert.is(dora(net, g).msg.yiaddr, ip('50'));
});

// ---------------------------------------------------------------------------------------------
const other = suite('RELEASE, DECLINE, INFORM, expiry');

other('release then re-acquire: the same address, and a release event', () => {
  const net = makeNet();
  const g = net.guest(A);
  dora(net, g, [opt.text(O.HostName, 'alpha')]);
  dora(net, net.guest(B));
  const rel = { mac: A, ciaddr: ip('2'), options: [opt.u8(O.MessageType, 7), opt.ips(O.ServerIdentifier, [GATEWAY])] };
  assert.equal(exchange(net, g, clientFrame(rel, { dst: GATEWAY, dstMac: GATEWAY_MAC })), [], 'no reply to a RELEASE');
  assert.equal(net.releases, [{ ip: '192.168.65.2', mac: '02:00:00:00:00:a1', hostname: 'alpha', reason: 'released' }]);
  assert.is(net.pool.leaseOf(A)!.state, 'inactive');
  assert.is(dora(net, g).msg.yiaddr, ip('2'));
});

other('decline: no reply, the address is quarantined, the client gets another', () => {
  const net = makeNet();
  const g = net.guest(A);
  dora(net, g);
  const dec = { mac: A, options: [opt.u8(O.MessageType, 4), opt.ips(O.ServerIdentifier, [GATEWAY]), opt.ips(O.RequestedIpAddress, [ip('2')])] };
  assert.equal(exchange(net, g, clientFrame(dec)), []);
  assert.equal(net.releases.map((r) => [r.ip, r.reason]), [['192.168.65.2', 'declined']]);
  assert.equal(net.errors.map((e) => e.kind), ['address-declined']);
  assert.match(net.errors[0]!.message, /02:00:00:00:00:a1 declined 192\.168\.65\.2/);
  assert.is(dora(net, g).msg.yiaddr, ip('3'));
  // A DECLINE from someone who does not hold the address changes nothing.
  exchange(net, net.guest(B), clientFrame({ ...dec, mac: B, options: [dec.options[0]!, dec.options[1]!, opt.ips(O.RequestedIpAddress, [ip('3')])] }));
  assert.is(net.pool.leaseOf(A)!.ip, ip('3'));
});

other('inform: an ACK with configuration but no lease fields, unicast to ciaddr; the pool is untouched', () => {
  const net = makeNet({ server: { domainName: 'vnet.test' } });
  const g = net.guest(A);
  const inf = { mac: A, ciaddr: ip('200'), options: [opt.u8(O.MessageType, 8), opt.bytes(O.ParameterRequestList, Uint8Array.of(15, 6))] };
  const [ack] = exchange(net, g, clientFrame(inf, { dst: GATEWAY, dstMac: GATEWAY_MAC }));
  assert.equal([ack!.type, ack!.msg.yiaddr, ack!.msg.ciaddr, ack!.ipDst, ack!.ethDst], [T.Ack, 0, ip('200'), ip('200'), A]);
  assert.equal(ack!.codes, [53, 54, 15, 6, 1, 3, 26]);
  assert.equal(net.pool.leases(), []);
  assert.equal(net.leases, []);
});

other('a lease that is not renewed expires on the manual clock with an event', () => {
  const net = makeNet();
  dora(net, net.guest(A), [opt.u32(O.LeaseTime, 60)]);
  net.sched.advance(59_999);
  assert.equal(net.releases, []);
  net.sched.advance(1);
  assert.equal(net.releases, [{ ip: '192.168.65.2', mac: '02:00:00:00:00:a1', reason: 'expired' }]);
  assert.is(net.sched.nextDeadline(), Infinity);
});

other('replies through a relay go to giaddr:67; a NAK through it sets the broadcast bit', () => {
  const net = makeNet();
  const relayMac = 0x0200000000ee;
  const relay = net.guest(relayMac);
  const m = discover(A, [], { giaddr: ip('250') });
  const [o] = exchange(net, relay, udpFrame({ srcMac: relayMac, src: ip('250'), dst: GATEWAY, dstMac: GATEWAY_MAC, srcPort: 67, payload: dhcpBytes(m) }));
  assert.equal([o!.ipDst, o!.dstPort, o!.ethDst, o!.msg.giaddr], [ip('250'), 67, relayMac, ip('250')]);
  const bad = { mac: A, giaddr: ip('250'), options: [opt.u8(O.MessageType, 3), opt.ips(O.RequestedIpAddress, [ip('9')])] };
  dora(net, net.guest(A));
  const [nak] = exchange(net, relay, udpFrame({ srcMac: relayMac, src: ip('250'), dst: GATEWAY, dstMac: GATEWAY_MAC, srcPort: 67, payload: dhcpBytes(bad) }));
  assert.equal([nak!.type, nak!.ipDst, nak!.msg.flags & BOOTP_BROADCAST_FLAG], [T.Nak, ip('250'), BOOTP_BROADCAST_FLAG]);
});

other('a reply too big for the client sheds optional options, never the essentials', () => {
  const long = Array.from({ length: 30 }, (_, i) => `zone${i}.a-rather-long-search-domain.example`);
  const net = makeNet({ server: { searchDomains: long, domainName: 'vnet.test' } });
  const g = net.guest(A);
  const prl = opt.bytes(O.ParameterRequestList, Uint8Array.of(1, 3, 6, 15, 119, 28));
  const [o] = exchange(net, g, clientFrame(discover(A, [prl])));
  assert.equal(o!.codes, [53, 54, 51, 58, 59, 1, 3, 6, 15, 26], '119 and 28 shed');
  assert.ok(o!.udpLen - 8 <= 548);
  const [big] = exchange(net, g, clientFrame(discover(A, [prl, opt.u16(O.MaxMessageSize, 1500)])));
  assert.equal(big!.codes, [53, 54, 51, 58, 59, 1, 3, 6, 15, 119, 28, 26]);
});

// ---------------------------------------------------------------------------------------------
const vmnet = suite('vmnet clients (protocols.md §1.7)');

vmnet('the Go client\'s minimal DISCOVER (checksums 0, broadcast flag) is offered its bound address', () => {
  // Checksum verification stays on: the gateway tolerates a zero IPv4 header checksum only on
  // UDP to port 67, exactly this client's DISCOVER.
  const net = makeNet();
  const mac = 0x025000000001;
  const g = net.guest(mac);
  assert.is(formatIpv4(net.server.bindVmnet('c3d68012-0208-11ea-9fd7-f2189899ab08', mac)._unsafeUnwrap().ip), '192.168.65.2');
  assert.equal(net.leases.map((l) => [l.ip, l.uuid]), [['192.168.65.2', 'c3d68012-0208-11ea-9fd7-f2189899ab08']]);
  const payload = dhcpBytes({ mac, xid: 0x01000000, flags: BOOTP_BROADCAST_FLAG, options: [opt.u8(O.MessageType, 1)] }).subarray(0, 244);
  payload[243] = 0xff;
  const [o] = exchange(net, g, udpFrame({ srcMac: mac, payload, zeroChecksums: true }));
  assert.ok(o, 'an OFFER');
  assert.equal([o!.ethDst, o!.msg.xid, formatIpv4(o!.msg.yiaddr)], [BROADCAST_MAC, 0x01000000, '192.168.65.2']);
  // The Go client accepts the offer only if bytes 240..242 of the UDP payload are 53, 1, 2.
  const frame = net.guest(0x025000000009); // a second port sees the broadcast too; read raw bytes there
  exchange(net, g, udpFrame({ srcMac: mac, payload, zeroChecksums: true }));
  const raw = frame.take()[0]!;
  assert.equal([...raw.subarray(42 + 240, 42 + 243)], [53, 1, 2]);
});

vmnet('server.bindVmnet passes vpnkit\'s reasons through', () => {
  const net = makeNet();
  net.server.bindVmnet('c3d68012-0208-11ea-9fd7-f2189899ab08', A, ip('10'))._unsafeUnwrap();
  const e = net.server.bindVmnet('5f1b8d7e-9c8a-4b1e-8f3c-2a6b7c8d9e0f', B, ip('10'))._unsafeUnwrapErr();
  assert.is(e.message, 'Preferred IP address 192.168.65.10 already used.');
  assert.is(net.leases.length, 1);
});

// ---------------------------------------------------------------------------------------------
const junk = suite('malformed and foreign messages are dropped silently');

junk('truncated, bad cookie, option past the end, no 53, a reply, not Ethernet, wrong ports or address', () => {
  const net = makeNet();
  const g = net.guest(A);
  const good = dhcpBytes(discover(A));
  const cases: Array<[string, Uint8Array, Partial<Parameters<typeof udpFrame>[0]>?]> = [
    ['truncated', good.subarray(0, 200)],
    ['bad cookie', Uint8Array.from(good, (x, i) => (i === 236 ? 0 : x))],
    ['option past the end', Uint8Array.from([...good.subarray(0, 240), 53, 1, 1, 12, 40, 0x61])],
    ['missing 53', dhcpBytes({ mac: A, options: [opt.ips(O.RequestedIpAddress, [ip('5')])] })],
    ['op = reply', Uint8Array.from(good, (x, i) => (i === 0 ? 2 : x))],
    ['htype 6', Uint8Array.from(good, (x, i) => (i === 1 ? 6 : x))],
    ['unknown type 42', dhcpBytes({ mac: A, options: [opt.u8(O.MessageType, 42)] })],
    ['src port 1234', good, { srcPort: 1234 }],
    ['to another host', good, { dst: ip('77'), dstMac: GATEWAY_MAC }],
    ['request without address', dhcpBytes({ mac: A, options: [opt.u8(O.MessageType, 3)] })],
  ];
  for (const [name, payload, over] of cases) {
    assert.equal(exchange(net, g, udpFrame({ srcMac: A, payload, ...over })), [], name);
  }
  assert.is(net.server.stats.dropped, cases.length);
  assert.equal([net.leases, net.releases, net.errors, net.pool.leases()], [[], [], [], []]);
});

junk('fuzz: random and mutated messages never throw and never produce a malformed reply', () => {
  const net = makeNet();
  const g = net.guest(A);
  const base = dhcpBytes(requestSelecting(A, ip('2'), [opt.bytes(O.ParameterRequestList, Uint8Array.of(1, 3, 6, 15, 26, 119))]));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }).map((muts) => {
          const m = Uint8Array.from(base);
          for (const [i, v] of muts) m[i] = v;
          return m;
        }),
      ),
      (payload) => {
        for (const r of exchange(net, g, udpFrame({ srcMac: A, payload }))) assert.ok([T.Offer, T.Ack, T.Nak].includes(r.type as 2 | 5 | 6));
      },
    ),
    { numRuns: 2000, seed: 2131 },
  );
});

full.run();
later.run();
other.run();
vmnet.run();
junk.run();
