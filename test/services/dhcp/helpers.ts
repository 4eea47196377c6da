/**
 * A small network for DHCP server tests: the real switch, gateway, UDP layer and neighbour cache
 * on a manual clock, with guest ports that record what they receive, plus builders for client
 * messages (written from RFC 2131/2132 with the wire helpers) and a decoder of replies.
 */
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { LeasePool } from '../../../src/services/dhcp/lease-pool.js';
import type { LeasePoolOptions } from '../../../src/services/dhcp/pool-config.js';
import { DhcpServer, type DhcpLeaseEvent, type DhcpReleaseEvent, type DhcpServerOptions } from '../../../src/services/dhcp/server.js';
import type { DhcpServerError } from '../../../src/services/dhcp/dhcp-errors.js';
import { ArpResponder } from '../../../src/stack/arp.js';
import { Gateway } from '../../../src/stack/gateway.js';
import { IcmpLayer } from '../../../src/stack/icmp.js';
import { Ipv4Output } from '../../../src/stack/ip-output.js';
import { Neighbours } from '../../../src/stack/neighbours.js';
import { UdpLayer } from '../../../src/stack/udp.js';
import { PortCounters, deliverByCopy, type SwitchPort } from '../../../src/switch/port.js';
import { Switch } from '../../../src/switch/switch.js';
import { BROADCAST_MAC, parseCidr, parseIpv4 } from '../../../src/wire/address.js';
import { u16be, u32be, u48be } from '../../../src/wire/bytes.js';
import { BOOTP_BROADCAST_FLAG, BootpOp, DhcpOption } from '../../../src/wire/dhcp.js';
import {
  dhcpOpt,
  dhcpReprLength,
  emitDhcp,
  parseDhcpRepr,
  type DhcpOptionData,
  type DhcpRepr,
} from '../../../src/wire/dhcp-repr.js';
import type { DropCode } from '../../../src/wire/drop.js';
import { ETH_HLEN, EtherType, writeEthernet } from '../../../src/wire/ethernet.js';
import { IPV4_HLEN, IpProto, writeIpv4 } from '../../../src/wire/ipv4.js';
import { UDP_HLEN, writeUdp } from '../../../src/wire/udp.js';

export const ip = (last: string): number => parseIpv4(`192.168.65.${last}`)!;
export const GATEWAY = ip('1');
export const GATEWAY_MAC = 0xf61636bcf9c6;
/** Monotonic 0 is this wall time. */
export const EPOCH = Date.UTC(2026, 0, 1);

/** A guest NIC on the switch that keeps a copy of every frame it is sent. */
export class GuestPort implements SwitchPort {
  id = 0;
  readonly maxFrame = 1514;
  readonly counters = new PortCounters();
  onDrain: (() => void) | undefined;
  readonly writable = true;
  txBuf = new Uint8Array(2048);
  readonly received: Uint8Array[] = [];
  constructor(
    readonly name: string,
    readonly mac: number,
  ) {}
  reserve(len: number): number {
    if (this.txBuf.length < len) this.txBuf = new Uint8Array(len);
    return 0;
  }
  commit(off: number, len: number): void {
    this.received.push(this.txBuf.slice(off, off + len));
  }
  deliver(b: Uint8Array, off: number, len: number): DropCode {
    return deliverByCopy(this, b, off, len) as DropCode;
  }
  /** Takes and clears what arrived. */
  take(): Uint8Array[] {
    return this.received.splice(0);
  }
}

/** Everything a server test needs. */
export interface Net {
  sched: ManualScheduler;
  sw: Switch;
  neighbours: Neighbours;
  pool: LeasePool;
  server: DhcpServer;
  leases: DhcpLeaseEvent[];
  releases: DhcpReleaseEvent[];
  errors: DhcpServerError[];
  guest(mac: number): GuestPort;
  /** Sends a frame from a guest port into the switch. */
  send(from: GuestPort, frame: Uint8Array): void;
}

export function makeNet(o: { pool?: Partial<LeasePoolOptions>; server?: Partial<DhcpServerOptions>; verifyChecksums?: boolean } = {}): Net {
  const sched = new ManualScheduler();
  const sw = new Switch({ clock: sched.clock });
  const neighbours = new Neighbours(sched.clock);
  const subnet = parseCidr('192.168.65.0/24')!;
  const out = new Ipv4Output(sw, neighbours, GATEWAY_MAC, GATEWAY, 1500);
  const owns = (x: number): boolean => x === GATEWAY || x === ip('254');
  const udp = new UdpLayer(out);
  let gw: Gateway;
  const arp = new ArpResponder(sw, neighbours, GATEWAY_MAC, owns, (x) => gw.isGuestAddress(x));
  gw = new Gateway({ subnet, gatewayIp: GATEWAY, hostIp: ip('254') }, neighbours, { arp, icmp: new IcmpLayer(out, owns), udp, tcp: () => {} }, o.verifyChecksums ?? true);
  sw.attachLocal(gw, GATEWAY_MAC);
  const pool = LeasePool.create({ subnet, gatewayIp: GATEWAY, hostIp: ip('254'), ...o.pool }, sched.clock)._unsafeUnwrap();
  const leases: DhcpLeaseEvent[] = [];
  const releases: DhcpReleaseEvent[] = [];
  const errors: DhcpServerError[] = [];
  const server = DhcpServer.create({
    udp,
    pool,
    scheduler: sched,
    serverIp: GATEWAY,
    mtu: 1500,
    neighbours,
    wallNow: () => EPOCH + sched.clock.now(),
    onLease: (e) => leases.push(e),
    onRelease: (e) => releases.push(e),
    onError: (e) => errors.push(e),
    ...o.server,
  })._unsafeUnwrap();
  return {
    sched,
    sw,
    neighbours,
    pool,
    server,
    leases,
    releases,
    errors,
    guest(mac) {
      const p = new GuestPort(`guest-${mac.toString(16)}`, mac);
      sw.attach(p);
      return p;
    },
    send(from, frame) {
      sw.input(from, frame, 0, frame.length);
    },
  };
}

/** A client message: only what differs from a fresh BOOTREQUEST needs saying. */
export interface ClientMsg {
  mac: number;
  xid?: number;
  flags?: number;
  ciaddr?: number;
  giaddr?: number;
  options: DhcpOptionData[];
}

export const opt = dhcpOpt;
export const O = DhcpOption;

/** The BOOTREQUEST bytes of `m` (RFC 2131 Figure 1). */
export function dhcpBytes(m: ClientMsg): Uint8Array {
  const r: DhcpRepr = {
    op: BootpOp.Request,
    xid: m.xid ?? 0x1234abcd,
    flags: m.flags ?? 0,
    ciaddr: m.ciaddr ?? 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: m.giaddr ?? 0,
    chaddr: m.mac,
    options: m.options,
  };
  const b = new Uint8Array(dhcpReprLength(r));
  emitDhcp(r, b, 0);
  return b;
}

/** Wraps a UDP payload in UDP/IPv4/Ethernet. `zeroChecksums` imitates the Go vmnet client. */
export function udpFrame(f: {
  srcMac: number;
  dstMac?: number;
  src?: number;
  dst?: number;
  srcPort?: number;
  dstPort?: number;
  payload: Uint8Array;
  zeroChecksums?: boolean;
}): Uint8Array {
  const len = ETH_HLEN + IPV4_HLEN + UDP_HLEN + f.payload.length;
  const b = new Uint8Array(Math.max(len, 60));
  const src = f.src ?? 0;
  const dst = f.dst ?? 0xffffffff;
  writeEthernet(b, 0, f.dstMac ?? BROADCAST_MAC, f.srcMac, EtherType.IPv4);
  writeIpv4(b, ETH_HLEN, IPV4_HLEN + UDP_HLEN + f.payload.length, 0x7f61, 64, IpProto.UDP, src, dst, 0);
  b.set(f.payload, ETH_HLEN + IPV4_HLEN + UDP_HLEN);
  writeUdp(b, ETH_HLEN + IPV4_HLEN, f.srcPort ?? 68, f.dstPort ?? 67, UDP_HLEN + f.payload.length, src, dst);
  if (f.zeroChecksums) {
    b[ETH_HLEN + 10] = 0;
    b[ETH_HLEN + 11] = 0;
    b[ETH_HLEN + IPV4_HLEN + 6] = 0;
    b[ETH_HLEN + IPV4_HLEN + 7] = 0;
  }
  return b;
}

/** A client message as a broadcast frame from its own MAC (the usual case). */
export function clientFrame(m: ClientMsg, over: Partial<Parameters<typeof udpFrame>[0]> = {}): Uint8Array {
  return udpFrame({ srcMac: m.mac, payload: dhcpBytes(m), ...(m.ciaddr ? { src: m.ciaddr } : {}), ...over });
}

/** A reply as the guest saw it. */
export interface Reply {
  ethDst: number;
  ethSrc: number;
  ipSrc: number;
  ipDst: number;
  srcPort: number;
  dstPort: number;
  udpLen: number;
  msg: DhcpRepr;
  type: number;
  codes: number[];
  /** Option data by code. */
  get(code: number): Uint8Array | undefined;
  u32(code: number): number | undefined;
}

/** Decodes a frame the server sent (asserting it is UDP 67 → 68/67 carrying DHCP). */
export function decodeReply(f: Uint8Array): Reply {
  const l3 = ETH_HLEN;
  const l4 = l3 + IPV4_HLEN;
  const udpLen = u16be(f, l4 + 4);
  const msg = parseDhcpRepr(f, l4 + UDP_HLEN, udpLen - UDP_HLEN);
  if (msg === undefined) throw new Error('reply does not parse as DHCP');
  const get = (code: number): Uint8Array | undefined => msg.options.find((x) => x.code === code)?.data;
  return {
    ethDst: u48be(f, 0),
    ethSrc: u48be(f, 6),
    ipSrc: u32be(f, l3 + 12),
    ipDst: u32be(f, l3 + 16),
    srcPort: u16be(f, l4),
    dstPort: u16be(f, l4 + 2),
    udpLen,
    msg,
    type: get(O.MessageType)![0]!,
    codes: msg.options.map((x) => x.code),
    get,
    u32: (code) => {
      const d = get(code);
      return d === undefined ? undefined : u32be(d, 0);
    },
  };
}

/** Client option shorthands. */
export const discover = (mac: number, extra: DhcpOptionData[] = [], m: Partial<ClientMsg> = {}): ClientMsg => ({
  mac,
  ...m,
  options: [opt.u8(O.MessageType, 1), ...extra],
});
export const requestSelecting = (mac: number, want: number, extra: DhcpOptionData[] = [], m: Partial<ClientMsg> = {}): ClientMsg => ({
  mac,
  ...m,
  options: [opt.u8(O.MessageType, 3), opt.ips(O.ServerIdentifier, [GATEWAY]), opt.ips(O.RequestedIpAddress, [want]), ...extra],
});
export { BOOTP_BROADCAST_FLAG };
