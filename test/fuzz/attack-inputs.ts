/**
 * Inputs for `test/fuzz/network.test.ts`: fast-check "recipes" of hostile traffic. They are made
 * into frames only when sent (`materialize` in `attack-frames.ts`), because some of them aim at
 * state that exists only at run time (a live connection's sequence numbers, the victim's leased
 * address).
 *
 * Every attacker frame carries the attacker's MAC and an IPv4/ARP source that is never the
 * victim's: a guest that forges another guest's address can always steal its traffic on a plain
 * learning bridge (there is no anti-spoofing), which is not what this test is about.
 * @module
 */
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { IpProto } from '../../src/wire/ipv4.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import { mutatedFrame, tlvs } from '../wire/golden/fuzz-inputs.js';

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
