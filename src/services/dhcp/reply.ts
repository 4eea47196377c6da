/**
 * What goes into a DHCP reply and where it is sent: pure functions over the request's fields, so
 * the rules are testable without a network.
 *
 * Options (RFC 2131 §4.3.1 Table 3, RFC 2132): every OFFER/ACK starts with 53 (the vpnkit Go
 * vmnet client only accepts an offer whose first option is 53, protocols.md §1.7) and 54, then
 * 51/58/59 when a lease is granted (never in the ACK to an INFORM, §4.3.5). Then the options the
 * client listed in its Parameter Request List, in its order (RFC 2132 §9.8: "MUST try to insert
 * the requested options in the order requested"), among those we have: 1, 3, 6, 15, 26, 28, 119.
 * Then the essentials it did not list: 1 subnet mask, 3 router, 6 DNS and 26 MTU.
 *
 * Why the essentials go out unasked (Table 3 allows any option in an OFFER/ACK): a client with no
 * or a short request list (the Go vmnet client sends none; busybox udhcpc's default list has no 26;
 * ISC dhclient asks for 26 only when its dhclient.conf says `interface-mtu`, as Debian's does)
 * still learns a usable configuration. Clients apply only the options they use, so an unasked
 * MTU costs 4 bytes and is ignored by those that did not ask. We send 26 on purpose where vpnkit
 * does not (protocols.md §1.6, §4.3): a link with MTU above 1500 is useless if guests never learn it.
 * 15/28/119 are sent only when asked, like vpnkit's charrua.
 * @module
 */
import { BROADCAST_MAC, broadcastOf, maskOf, type Ipv4Cidr } from '../../wire/address.js';
import {
  BOOTP_BROADCAST_FLAG,
  BootpOp,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DhcpMessageType,
  DhcpOption,
} from '../../wire/dhcp.js';
import {
  dhcpOpt,
  dhcpReprLength,
  type DhcpOptionData,
  type DhcpRepr,
} from '../../wire/dhcp-repr.js';

/** What the server hands out besides the address. Encoded once, at construction. */
export interface ReplyConfig {
  readonly serverIp: number;
  readonly subnet: Ipv4Cidr;
  readonly router: number;
  readonly dnsServers: readonly number[];
  readonly mtu: number;
  /** Option 15 text, absent when not configured. */
  readonly domainName?: string;
  /** Option 119 data (RFC 3397 encoded), absent when empty. */
  readonly domainSearch?: Uint8Array;
}

/** The request fields a reply copies or depends on (RFC 2131 §4.3.1 Table 3 "from client"). */
export interface ReplyContext {
  readonly xid: number;
  readonly flags: number;
  readonly ciaddr: number;
  readonly giaddr: number;
  readonly chaddr: number;
  /** Option 55 bytes (may be empty). */
  readonly prl: Uint8Array;
  /** Option 57, 0 when absent. */
  readonly maxMessageSize: number;
}

/** Options a client gets even when it did not ask (see the module comment). */
const ESSENTIALS = [DhcpOption.SubnetMask, DhcpOption.Router, DhcpOption.DomainNameServer, DhcpOption.InterfaceMtu] as const;
/**
 * RFC 2131 §2: a client must accept a 576-octet IP datagram, i.e. a 548-octet DHCP message
 * (576 − 20 IP − 8 UDP); larger only when it says so with option 57.
 */
const MIN_MAX_MESSAGE = 576;

/** The value of a configured option, or undefined when we do not serve it. */
function configured(cfg: ReplyConfig, code: number): DhcpOptionData | undefined {
  switch (code) {
    case DhcpOption.SubnetMask:
      return dhcpOpt.ips(code, [maskOf(cfg.subnet.prefix)]);
    case DhcpOption.Router:
      return dhcpOpt.ips(code, [cfg.router]);
    case DhcpOption.DomainNameServer:
      return cfg.dnsServers.length > 0 ? dhcpOpt.ips(code, cfg.dnsServers) : undefined;
    case DhcpOption.InterfaceMtu:
      return dhcpOpt.u16(code, cfg.mtu);
    case DhcpOption.BroadcastAddress:
      return dhcpOpt.ips(code, [broadcastOf(cfg.subnet)]);
    case DhcpOption.DomainName:
      return cfg.domainName !== undefined ? dhcpOpt.text(code, cfg.domainName) : undefined;
    case DhcpOption.DomainSearch:
      return cfg.domainSearch !== undefined ? dhcpOpt.bytes(code, cfg.domainSearch) : undefined;
    default:
      return undefined;
  }
}

/** Lease time fields: 51, and T1/T2 at RFC 2131 §4.4.5's defaults (0.5 and 0.875 of the lease). */
function leaseOptions(leaseSec: number): DhcpOptionData[] {
  return [
    dhcpOpt.u32(DhcpOption.LeaseTime, leaseSec),
    dhcpOpt.u32(DhcpOption.RenewalTime, Math.floor(leaseSec / 2)),
    dhcpOpt.u32(DhcpOption.RebindingTime, Math.floor((leaseSec * 7) / 8)),
  ];
}

/**
 * An OFFER or ACK. `leaseSec` undefined = the ACK to an INFORM (no lease fields, yiaddr 0,
 * RFC 2131 §4.3.5).
 */
export function buildOfferOrAck(
  type: typeof DhcpMessageType.Offer | typeof DhcpMessageType.Ack,
  ctx: ReplyContext,
  cfg: ReplyConfig,
  yiaddr: number,
  leaseSec: number | undefined,
): DhcpRepr {
  const head: DhcpOptionData[] = [dhcpOpt.u8(DhcpOption.MessageType, type), dhcpOpt.ips(DhcpOption.ServerIdentifier, [cfg.serverIp])];
  if (leaseSec !== undefined) head.push(...leaseOptions(leaseSec));
  const rest: DhcpOptionData[] = [];
  const sent = new Set<number>();
  const add = (code: number): void => {
    if (sent.has(code)) return;
    const o = configured(cfg, code);
    if (o === undefined) return;
    sent.add(code);
    rest.push(o);
  };
  for (const code of ctx.prl) add(code);
  for (const code of ESSENTIALS) add(code);
  const repr = (options: DhcpOptionData[]): DhcpRepr => ({
    op: BootpOp.Reply,
    xid: ctx.xid,
    flags: ctx.flags,
    // Table 3: an OFFER's ciaddr is 0; an ACK copies the request's (or the INFORM's).
    ciaddr: type === DhcpMessageType.Ack ? ctx.ciaddr : 0,
    yiaddr,
    siaddr: 0,
    giaddr: ctx.giaddr,
    chaddr: ctx.chaddr,
    options,
  });
  // Too big for the client (a long search list): shed the non-essential options, last first.
  const limit = Math.max(MIN_MAX_MESSAGE, ctx.maxMessageSize) - 28;
  let r = repr([...head, ...rest]);
  while (dhcpReprLength(r) > limit) {
    const i = rest.findLastIndex((o) => !(ESSENTIALS as readonly number[]).includes(o.code));
    if (i < 0) break;
    rest.splice(i, 1);
    r = repr([...head, ...rest]);
  }
  return r;
}

/** A NAK: 53, 54 and a Message (56) saying why (RFC 2131 §4.3.2, Table 3). */
export function buildNak(ctx: ReplyContext, cfg: ReplyConfig, message: string): DhcpRepr {
  return {
    op: BootpOp.Reply,
    xid: ctx.xid,
    // RFC 2131 §4.1: a NAK through a relay sets the broadcast bit so the relay broadcasts it.
    flags: ctx.giaddr !== 0 ? ctx.flags | BOOTP_BROADCAST_FLAG : ctx.flags,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: ctx.giaddr,
    chaddr: ctx.chaddr,
    options: [
      dhcpOpt.u8(DhcpOption.MessageType, DhcpMessageType.Nak),
      dhcpOpt.ips(DhcpOption.ServerIdentifier, [cfg.serverIp]),
      dhcpOpt.text(DhcpOption.Message, message.slice(0, 255)),
    ],
  };
}

/** Where a reply goes: IP, UDP port and Ethernet destination. */
export interface ReplyDestination {
  readonly ip: number;
  readonly port: number;
  readonly mac: number;
}

/**
 * RFC 2131 §4.1 (and protocols.md §4.3): to the relay (giaddr) when there is one; a NAK is
 * broadcast; to ciaddr when the client has an address; broadcast when the client set the
 * BROADCAST bit (it cannot receive unicast before it has an address) or there is no yiaddr; else
 * unicast to yiaddr at chaddr (no ARP: the client cannot answer ARP yet). Unicasts go to the MAC
 * the request came from, so no ARP is needed.
 */
export function replyDestination(
  type: number,
  ctx: Pick<ReplyContext, 'giaddr' | 'ciaddr' | 'flags' | 'chaddr'>,
  yiaddr: number,
  frameSrcMac: number,
): ReplyDestination {
  if (ctx.giaddr !== 0) return { ip: ctx.giaddr, port: DHCP_SERVER_PORT, mac: frameSrcMac };
  const broadcast = { ip: 0xffffffff, port: DHCP_CLIENT_PORT, mac: BROADCAST_MAC };
  if (type === DhcpMessageType.Nak) return broadcast;
  if (ctx.ciaddr !== 0) return { ip: ctx.ciaddr, port: DHCP_CLIENT_PORT, mac: frameSrcMac };
  if ((ctx.flags & BOOTP_BROADCAST_FLAG) !== 0 || yiaddr === 0) return broadcast;
  return { ip: yiaddr, port: DHCP_CLIENT_PORT, mac: ctx.chaddr };
}
