/**
 * Inputs for `test/fuzz/network.test.ts`: fast-check "recipes" of hostile traffic, turned into
 * frames only when sent (`materialize`), because some of them aim at state that exists only at
 * run time (a live connection's sequence numbers, the victim's leased address).
 *
 * Every attacker frame carries the attacker's MAC and an IPv4/ARP source that is never the
 * victim's: a guest that forges another guest's address can always steal its traffic on a plain
 * learning bridge (there is no anti-spoofing), which is not what this test is about.
 * @module
 */
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { EtherType, writeEthernet } from '../../src/wire/ethernet.js';
import { IpProto, writeIpv4 } from '../../src/wire/ipv4.js';
import { writeTcpHeader, TcpFlag } from '../../src/wire/tcp.js';
import { writeIcmp } from '../../src/wire/icmpv4.js';
import { writeUdp } from '../../src/wire/udp.js';
import { writeArp } from '../../src/wire/arp.js';
import { dhcpOpt, DhcpOption } from '../../src/wire/dhcp.js';
import { dhcpBytes } from '../services/dhcp/helpers.js';
import { mutatedFrame, repairChecksums, setU16, tlvs } from '../wire/golden/fuzz-inputs.js';

export const GW = 0xc0a84101; // 192.168.65.1
export const ALIAS = 0xc0a841fe; // 192.168.65.254
export const ATTACKER_IP = 0xc0a84164; // 192.168.65.100
export const SUBNET_BCAST = 0xc0a841ff;
export const GW_MAC = 0xf61636bcf9c6;
export const VICTIM_MAC = 0x020000000010;
export const ATTACKER_MAC = 0x020000000066;
export const BROADCAST = 0xffffffffffff;

/** Where attacker traffic is aimed. Host-side targets are all on 127.0.0.1, via the alias. */
export type Target =
  | 'gw' // the gateway's own services (ICMP, DNS, DHCP, closed ports)
  | 'alias-attack' // a host server that accepts and hangs up
  | 'alias-victim' // the victim's own host server (a stray connection must not disturb it)
  | 'alias-closed' // a closed host port
  | 'alias-sink' // a host UDP socket that swallows datagrams
  | 'external' // outside the egress policy: must never leave
  | 'loopback' // 127/8 named directly: refused
  | 'victim' // the victim guest's address
  | 'guest' // another (absent) guest address
  | 'bcast'
  | 'zero';

const target: fc.Arbitrary<Target> = fc.constantFrom(
  'gw', 'gw', 'gw', 'alias-attack', 'alias-attack', 'alias-victim', 'alias-closed', 'alias-sink', 'external', 'loopback', 'victim', 'guest', 'bcast', 'zero',
);

/** Run-time facts a recipe may aim at. */
export interface Context {
  victimIp: number;
  ports: { victim: number; attack: number; closed: number; sink: number };
  /** The attacker's live connections (set once their SYN-ACK arrived). */
  live: Array<{ sport: number; dst: number; dport: number; seq: number; ack: number } | undefined>;
  /** The victim's live connection as its guest TCP sees it. */
  victimConn: { sport: number; dport: number; sndNxt: number; rcvNxt: number } | undefined;
}

export type Recipe =
  | { k: 'golden'; frame: Uint8Array; to: Target; dstMac: number; port: number; repair: boolean }
  | { k: 'tcp'; to: Target; sport: number; dport: number; flags: number; seq: number; ack: number; win: number; opts: Uint8Array; payload: Uint8Array; repair: boolean }
  | { k: 'live'; which: number; flags: number; dseq: number; dack: number; win: number; opts: Uint8Array; payload: Uint8Array }
  | { k: 'victim-live'; flags: number; far: number; payload: Uint8Array }
  | { k: 'flood'; to: Target; n: number; base: number; fromVictim: boolean }
  | { k: 'udp'; to: Target; dport: number; payload: Uint8Array; repair: boolean }
  | { k: 'dns'; query: Uint8Array; flips: Array<[number, number]>; tcp: boolean }
  | { k: 'dhcp'; type: number; chaddr: number; claim: 'victim' | 'random' | 'none'; ciaddrVictim: boolean; extra: Uint8Array; flips: Array<[number, number]> }
  | { k: 'icmp'; to: Target; type: number; code: number; rest: number; quote: 'garbage' | 'victim' | 'live' | 'none'; body: Uint8Array; repair: boolean }
  | { k: 'frag'; to: Target; proto: number; id: number; pieces: Array<{ off: number; len: number; mf: boolean; fill: number }> }
  | { k: 'arp'; op: number; sender: 'attacker' | 'random' | 'zero' | 'gw'; senderMac: number; targetIp: Target; dstMac: number; trunc: number }
  | { k: 'random'; bytes: Uint8Array; head: 'none' | 'ipv4' | 'arp' | 'vlan' };

const u16 = fc.nat({ max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff }).map((x) => x >>> 0);
const payload = fc.uint8Array({ maxLength: 300 });
const flags = fc.oneof(
  fc.constantFrom(TcpFlag.SYN, TcpFlag.SYN | TcpFlag.ACK, TcpFlag.ACK, TcpFlag.RST, TcpFlag.RST | TcpFlag.ACK, TcpFlag.FIN | TcpFlag.ACK, TcpFlag.ACK | TcpFlag.PSH, TcpFlag.SYN | TcpFlag.FIN, TcpFlag.URG | TcpFlag.ACK),
  fc.nat({ max: 255 }),
);
const randomMac = fc.nat({ max: 2 ** 48 - 1 }).map((m) => (m === VICTIM_MAC ? m + 1 : m));

/** One hostile action. */
export const recipe: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('golden' as const), frame: mutatedFrame, to: target, dstMac: fc.constantFrom(GW_MAC, GW_MAC, GW_MAC, BROADCAST, VICTIM_MAC, 0x02000000abcd), port: u16, repair: fc.nat({ max: 4 }).map((n) => n > 0) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('tcp' as const),
      to: target,
      sport: fc.integer({ min: 1, max: 0xffff }),
      dport: u16,
      flags,
      seq: u32,
      ack: u32,
      win: u16,
      opts: fc.oneof(fc.constant(new Uint8Array(0)), tlvs, fc.uint8Array({ maxLength: 40 })),
      payload,
      repair: fc.nat({ max: 9 }).map((n) => n > 0),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('live' as const),
      which: fc.nat({ max: 3 }),
      flags,
      dseq: fc.oneof(fc.constant(0), fc.integer({ min: -3000, max: 3000 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      dack: fc.oneof(fc.constant(0), fc.integer({ min: -3000, max: 3000 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      win: u16,
      opts: fc.oneof(fc.constant(new Uint8Array(0)), tlvs),
      payload,
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('victim-live' as const), flags: fc.constantFrom(TcpFlag.RST, TcpFlag.SYN, TcpFlag.RST | TcpFlag.ACK, TcpFlag.ACK, TcpFlag.SYN | TcpFlag.ACK, TcpFlag.FIN | TcpFlag.ACK), far: fc.integer({ min: 0x40000000, max: 0xc0000000 }), payload: fc.uint8Array({ maxLength: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('flood' as const), to: fc.constantFrom<Target>('gw', 'alias-attack', 'alias-closed', 'external', 'loopback', 'alias-victim'), n: fc.integer({ min: 5, max: 60 }), base: fc.integer({ min: 1024, max: 40000 }), fromVictim: fc.nat({ max: 4 }).map((n) => n === 0) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('udp' as const), to: target, dport: fc.oneof(fc.constantFrom(53, 67, 68, 123), u16), payload, repair: fc.nat({ max: 9 }).map((n) => n > 0) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('dns' as const),
      query: fc
        .record({ id: u16, name: fc.constantFrom('host.internal', 'gateway.internal', 'x.fuzz.test', 'a.b.c.d.e.f', ''), type: fc.constantFrom('A', 'AAAA', 'PTR', 'SRV', 'TXT', 'ANY', 'MX') })
        .map(({ id, name, type }) => Uint8Array.from(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type as 'A', name }] }))),
      flips: fc.array(fc.tuple(fc.nat({ max: 200 }), fc.nat({ max: 255 })), { maxLength: 4 }),
      tcp: fc.nat({ max: 4 }).map((n) => n === 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('dhcp' as const),
      type: fc.oneof(fc.constantFrom(1, 3, 4, 7, 8), fc.nat({ max: 255 })),
      chaddr: randomMac,
      claim: fc.constantFrom('victim' as const, 'random' as const, 'none' as const),
      ciaddrVictim: fc.boolean(),
      extra: fc.uint8Array({ maxLength: 60 }),
      flips: fc.array(fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 255 })), { maxLength: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('icmp' as const),
      to: target,
      type: fc.oneof(fc.constantFrom(0, 3, 3, 4, 5, 8, 8, 11, 12, 13), fc.nat({ max: 255 })),
      code: fc.oneof(fc.constantFrom(0, 1, 3, 4, 13), fc.nat({ max: 255 })),
      rest: u32,
      quote: fc.constantFrom('garbage' as const, 'victim' as const, 'live' as const, 'none' as const),
      body: fc.uint8Array({ maxLength: 120 }),
      repair: fc.nat({ max: 9 }).map((n) => n > 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('frag' as const),
      to: fc.constantFrom<Target>('gw', 'gw', 'alias-sink', 'external', 'victim'),
      proto: fc.constantFrom(IpProto.ICMP, IpProto.UDP, IpProto.TCP, 99),
      id: fc.nat({ max: 7 }),
      pieces: fc.array(
        fc.record({
          off: fc.oneof(fc.nat({ max: 40 }).map((x) => x * 8), fc.nat({ max: 8191 }).map((x) => x * 8), fc.nat({ max: 2000 })),
          len: fc.oneof(fc.nat({ max: 20 }).map((x) => x * 8), fc.nat({ max: 1400 })),
          mf: fc.boolean(),
          fill: fc.nat({ max: 255 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('arp' as const),
      op: fc.oneof(fc.constantFrom(1, 2), fc.nat({ max: 0xffff })),
      sender: fc.constantFrom('attacker' as const, 'random' as const, 'zero' as const, 'gw' as const),
      senderMac: fc.oneof(fc.constant(ATTACKER_MAC), randomMac),
      targetIp: target,
      dstMac: fc.constantFrom(BROADCAST, GW_MAC, VICTIM_MAC),
      trunc: fc.oneof(fc.constant(60), fc.nat({ max: 60 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 1600 }), head: fc.constantFrom('none' as const, 'ipv4' as const, 'arp' as const, 'vlan' as const) }),
  },
);

/** The address a target names (random picks come from `salt`). */
function addrOf(t: Target, ctx: Context, salt: number): number {
  switch (t) {
    case 'gw':
      return GW;
    case 'alias-attack':
    case 'alias-victim':
    case 'alias-closed':
    case 'alias-sink':
      return ALIAS;
    case 'external':
      return [0x0a000001, 0x08080808, 0xc6336407, 0xe0000001][salt & 3]! >>> 0;
    case 'loopback':
      return (0x7f000001 + (salt & 0xff00)) >>> 0;
    case 'victim':
      return ctx.victimIp;
    case 'guest':
      return 0xc0a84100 + 2 + (salt % 250) === ctx.victimIp ? 0xc0a84132 : 0xc0a84100 + 2 + (salt % 250);
    case 'bcast':
      return salt & 1 ? SUBNET_BCAST : 0xffffffff;
    case 'zero':
      return 0;
  }
}

/** Host ports are never random: only our own servers and a known-closed port are touched. */
function portOf(t: Target, ctx: Context, port: number): number {
  switch (t) {
    case 'alias-attack':
      return ctx.ports.attack;
    case 'alias-victim':
      return ctx.ports.victim;
    case 'alias-closed':
      return ctx.ports.closed;
    case 'alias-sink':
      return ctx.ports.sink;
    case 'loopback':
      return ctx.ports.closed;
    default:
      return port;
  }
}

function eth(len: number, dstMac: number, srcMac: number, type: number): Buffer {
  const b = Buffer.alloc(Math.max(60, len));
  writeEthernet(b, 0, dstMac, srcMac, type);
  return b;
}

/** An IPv4 packet around `l4` (checksum of the IP header written; L4 checksums are the caller's). */
export function ipFrame(srcMac: number, dstMac: number, src: number, dst: number, proto: number, l4: Uint8Array, flagsFrag = 0, id = 1): Buffer {
  const b = eth(34 + l4.length, dstMac, srcMac, EtherType.IPv4);
  b.set(l4, 34);
  writeIpv4(b, 14, 20 + l4.length, id, 64, proto, src >>> 0, dst >>> 0, flagsFrag);
  return b;
}

function tcpL4(sport: number, dport: number, seq: number, ack: number, flags: number, win: number, opts: Uint8Array, data: Uint8Array): Buffer {
  const optLen = Math.min(40, Math.ceil(opts.length / 4) * 4);
  const hl = 20 + optLen;
  const l4 = Buffer.alloc(hl + data.length);
  writeTcpHeader(l4, 0, sport, dport, seq >>> 0, ack >>> 0, hl, flags, win);
  l4.set(opts.subarray(0, optLen), 20);
  l4.set(data, hl);
  return l4;
}

/** A TCP frame with correct checksums unless `repair` is false. */
function tcpFrame(srcMac: number, src: number, dst: number, l4: Buffer, repair = true): Buffer {
  const f = ipFrame(srcMac, GW_MAC, src, dst, IpProto.TCP, l4);
  if (repair) repairChecksums(f);
  return f;
}

function udpFrame(srcMac: number, src: number, sport: number, dst: number, dport: number, data: Uint8Array, dstMac = GW_MAC): Buffer {
  const l4 = Buffer.alloc(8 + data.length);
  l4.set(data, 8);
  writeUdp(l4, 0, sport, dport, l4.length, src, dst);
  return ipFrame(srcMac, dstMac, src, dst, IpProto.UDP, l4);
}

/** An attacker frame never claims the victim's MAC or address as its source. */
function sanitize(f: Uint8Array, ctx: Context): void {
  if (f.length >= 12 && Buffer.from(f.subarray(6, 12)).readUIntBE(0, 6) === VICTIM_MAC) f[11] ^= 0x80;
  if (f.length >= 30 && f[12] === 0x08 && f[13] === 0x00 && Buffer.from(f.subarray(26, 30)).readUInt32BE(0) === ctx.victimIp) f[29] ^= 0x40;
  if (f.length >= 32 && f[12] === 0x08 && f[13] === 0x06 && Buffer.from(f.subarray(28, 32)).readUInt32BE(0) === ctx.victimIp) f[31] ^= 0x40;
}

/** Which NIC sends a frame. */
export interface Outgoing {
  from: 'attacker' | 'victim';
  frame: Uint8Array;
}

/** Turns a recipe into frames, given what exists now. */
export function materialize(r: Recipe, ctx: Context): Outgoing[] {
  const A = (frame: Uint8Array): Outgoing => {
    sanitize(frame, ctx);
    return { from: 'attacker', frame };
  };
  switch (r.k) {
    case 'golden': {
      const f = Uint8Array.from(r.frame);
      const setMac = (at: number, m: number): void => {
        if (f.length >= at + 6) Buffer.from(f.buffer, f.byteOffset).writeUIntBE(m, at, 6);
      };
      setMac(0, r.dstMac);
      setMac(6, ATTACKER_MAC);
      const isIp = f.length > 14 && f[12] === 0x08 && f[13] === 0x00;
      const isArp = f.length > 14 && f[12] === 0x08 && f[13] === 0x06;
      const dv = new DataView(f.buffer, f.byteOffset, f.length);
      if (isIp && f.length >= 34) {
        dv.setUint32(26, ATTACKER_IP);
        dv.setUint32(30, addrOf(r.to, ctx, r.port));
        const l4 = 14 + (f[14]! & 15) * 4;
        // Host-side destinations get our own ports; anything else keeps the mutated one.
        const hostSide = r.to.startsWith('alias') || r.to === 'loopback';
        if (hostSide && (f[23] === 6 || f[23] === 17)) setU16(f, l4 + 2, portOf(r.to, ctx, r.port));
        if (r.to.startsWith('alias') || r.to === 'loopback') {
          // Whatever it is, an aliased destination port must be ours: also the ICMP-quoted one.
          if (f[23] !== 6 && f[23] !== 17 && f[23] !== 1) dv.setUint32(30, GW);
        }
      } else if (isArp && f.length >= 42) {
        setMac(22, ATTACKER_MAC);
        dv.setUint32(28, ATTACKER_IP);
        dv.setUint32(38, addrOf(r.to, ctx, r.port));
      }
      if (r.repair) repairChecksums(f);
      return [A(f)];
    }
    case 'tcp': {
      const dst = addrOf(r.to, ctx, r.sport);
      const l4 = tcpL4(r.sport, portOf(r.to, ctx, r.dport), r.seq, r.ack, r.flags, r.win, r.opts, r.payload);
      return [A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, dst, l4, r.repair))];
    }
    case 'live': {
      const l = ctx.live[r.which];
      if (l === undefined) return [];
      const l4 = tcpL4(l.sport, l.dport, l.seq + r.dseq, l.ack + r.dack, r.flags, r.win, r.opts, r.payload);
      return [A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, l.dst, l4))];
    }
    case 'victim-live': {
      // From the victim's own NIC, on its own live tuple, with sequence and acknowledgment
      // numbers far outside every window (RFC 5961 blind attacks): never accepted, never a reset.
      const v = ctx.victimConn;
      if (v === undefined) return [];
      const data = r.flags & TcpFlag.RST || r.flags & TcpFlag.SYN ? new Uint8Array(0) : r.payload;
      const l4 = tcpL4(v.sport, v.dport, v.sndNxt + r.far, v.rcvNxt + r.far, r.flags, 1024, new Uint8Array(0), data);
      return [{ from: 'victim', frame: tcpFrame(VICTIM_MAC, ctx.victimIp, ALIAS, l4) }];
    }
    case 'flood': {
      const out: Outgoing[] = [];
      const dst = addrOf(r.to, ctx, r.base);
      const dport = portOf(r.to, ctx, r.to === 'gw' ? 53 + (r.base & 1) * 1000 : 80);
      for (let i = 0; i < r.n; i++) {
        const l4 = tcpL4(r.base + i, dport, (r.base * 7919 + i * 104729) >>> 0, 0, TcpFlag.SYN, 65535, Uint8Array.of(2, 4, 5, 180), new Uint8Array(0));
        if (r.fromVictim) out.push({ from: 'victim', frame: tcpFrame(VICTIM_MAC, ctx.victimIp, dst, l4) });
        else out.push(A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, dst, l4)));
      }
      return out;
    }
    case 'udp': {
      const f = udpFrame(ATTACKER_MAC, ATTACKER_IP, 1024 + (r.dport % 60000), addrOf(r.to, ctx, r.dport), portOf(r.to, ctx, r.dport), r.payload);
      if (!r.repair) f[40] ^= 0x55;
      return [A(f)];
    }
    case 'dns': {
      const q = Uint8Array.from(r.query);
      for (const [pos, v] of r.flips) if (q.length > 0) q[pos % q.length] = v;
      if (!r.tcp) return [A(udpFrame(ATTACKER_MAC, ATTACKER_IP, 20000 + (q[0]! & 0xff), GW, 53, q))];
      // DNS over TCP without a handshake: a bare data segment to port 53 (RST expected).
      const data = Buffer.alloc(2 + q.length);
      data.writeUInt16BE(q.length, 0);
      data.set(q, 2);
      return [A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, GW, tcpL4(30000 + q[1]!, 53, 1, 1, TcpFlag.ACK | TcpFlag.PSH, 1000, new Uint8Array(0), data)))];
    }
    case 'dhcp': {
      const claim = r.claim === 'victim' ? ctx.victimIp : r.claim === 'random' ? 0xc0a84100 + (r.chaddr % 254) + 1 : 0;
      const opts = [dhcpOpt.u8(DhcpOption.MessageType, r.type)];
      if (claim !== 0) opts.push(dhcpOpt.ips(DhcpOption.RequestedIpAddress, [claim]));
      if (r.type === 3 || r.type === 4) opts.push(dhcpOpt.ips(DhcpOption.ServerIdentifier, [GW]));
      const body = dhcpBytes({ mac: r.chaddr, xid: r.chaddr & 0xffffffff, ciaddr: r.ciaddrVictim ? ctx.victimIp : 0, options: opts });
      const payload = Buffer.concat([body.subarray(0, body.length - 1), r.extra, body.subarray(body.length - 1)]);
      for (const [pos, v] of r.flips) payload[240 + (pos % Math.max(1, payload.length - 240))] = v;
      return [A(udpFrame(ATTACKER_MAC, 0, 68, 0xffffffff, 67, payload, BROADCAST))];
    }
    case 'icmp': {
      let quote: Uint8Array = r.body;
      const q = (src: number, dst: number, proto: number, sport: number, dport: number, seq: number): Uint8Array => {
        const b = Buffer.alloc(28 + (r.body.length & 15));
        writeIpv4(b, 0, 60, 7, 64, proto, src, dst);
        b.writeUInt16BE(sport, 20);
        b.writeUInt16BE(dport, 22);
        b.writeUInt32BE(seq >>> 0, 24);
        return b;
      };
      const v = ctx.victimConn;
      const l = ctx.live.find((x) => x !== undefined);
      // Errors "from the gateway side" of a live tuple: the quoted datagram is one the guest sent.
      if (r.quote === 'victim' && v) quote = q(ctx.victimIp, ALIAS, IpProto.TCP, v.sport, v.dport, v.sndNxt + r.rest);
      if (r.quote === 'live' && l) quote = q(ATTACKER_IP, l.dst, IpProto.TCP, l.sport, l.dport, l.seq);
      if (r.quote === 'none') quote = new Uint8Array(0);
      const l4 = Buffer.alloc(8 + quote.length);
      l4.set(quote, 8);
      writeIcmp(l4, 0, l4.length, r.type, r.code, r.rest);
      if (!r.repair) l4[2] ^= 1;
      const to = r.to.startsWith('alias') ? 'alias-closed' : r.to;
      return [A(ipFrame(ATTACKER_MAC, GW_MAC, ATTACKER_IP, addrOf(to, ctx, r.rest), IpProto.ICMP, l4))];
    }
    case 'frag': {
      const dst = addrOf(r.to, ctx, r.id);
      const out: Outgoing[] = [];
      for (const p of r.pieces) {
        const data = Buffer.alloc(p.len, p.fill);
        // The first fragment starts with a plausible L4 header aimed at our own ports.
        if (p.off === 0 && p.len >= 8) {
          if (r.proto === IpProto.UDP) {
            data.writeUInt16BE(5000, 0);
            data.writeUInt16BE(r.to === 'alias-sink' ? ctx.ports.sink : 53, 2);
            data.writeUInt16BE(Math.min(0xffff, p.len), 4);
            data.writeUInt16BE(0, 6);
          } else if (r.proto === IpProto.ICMP) {
            data[0] = 8;
            data[1] = 0;
          } else if (r.proto === IpProto.TCP) {
            data.writeUInt16BE(5000, 0);
            data.writeUInt16BE(ctx.ports.closed, 2);
          }
        }
        const ff = ((p.off >> 3) & 0x1fff) | (p.mf ? 0x2000 : 0);
        const f = ipFrame(ATTACKER_MAC, GW_MAC, ATTACKER_IP, dst, r.proto, data, ff, 0x4000 + r.id);
        if (p.off % 8 !== 0) f[21] = (f[21]! + 1) & 0xff; // an offset not on the 8-byte grid: garbage low bits
        repairChecksums(f);
        out.push(A(f));
      }
      return out;
    }
    case 'arp': {
      const f = eth(42, r.dstMac, ATTACKER_MAC, EtherType.ARP);
      const sip = r.sender === 'attacker' ? ATTACKER_IP : r.sender === 'zero' ? 0 : r.sender === 'gw' ? GW : 0xc0a84100 + (r.senderMac % 254) + 1;
      writeArp(f, 14, r.op, r.senderMac, sip, 0, addrOf(r.targetIp, ctx, r.senderMac));
      return [A(f.subarray(0, Math.max(14, r.trunc)))];
    }
    case 'random': {
      const b = Buffer.alloc(Math.max(14, r.bytes.length));
      b.set(r.bytes);
      if (r.head !== 'none') {
        b.writeUIntBE(GW_MAC, 0, 6);
        b.writeUIntBE(ATTACKER_MAC, 6, 6);
        b.writeUInt16BE(r.head === 'ipv4' ? 0x0800 : r.head === 'arp' ? 0x0806 : 0x8100, 12);
        if (r.head === 'ipv4' && b.length > 14) b[14] = 0x45;
        if (r.head === 'ipv4' && b.length >= 34) {
          b.writeUInt32BE(ATTACKER_IP, 26);
          b.writeUInt32BE(GW, 30);
          repairChecksums(b);
        }
      } else if (b.length >= 12 && b.readUIntBE(0, 6) === VICTIM_MAC) b[5] ^= 1;
      return [A(b)];
    }
  }
}
