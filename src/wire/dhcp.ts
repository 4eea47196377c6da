/**
 * BOOTP/DHCP messages (RFC 2131 §2, RFC 2132, RFC 951): a checked view for requests. Replies are
 * built from a plain `DhcpRepr` (`dhcp-repr.ts`).
 *
 * Parsing: {@link parseDhcp} validates a message in `b[off, off+len)` once and fills a reused
 * {@link DhcpInfo} with the positions of the options the server reads. It never throws and never
 * allocates; after it returns {@link Drop.None} every offset it recorded is in bounds. The
 * allocation-free {@link DhcpOptionCursor} walks the options field for everything else.
 *
 * Rules the view enforces (all other oddities are the server's business):
 * - at least the 236-byte fixed header plus the 4-byte magic cookie (RFC 2131 §3, RFC 2132 §2);
 * - the cookie is 99.130.83.99, else it is plain BOOTP, which we do not serve ({@link Drop.Unsupported});
 * - every option but Pad (0) and End (255) has a length byte and fits before the end
 *   (RFC 2132 §2); one that runs past the end is {@link Drop.BadLength};
 * - the options we read have their RFC 2132 sizes (53: 1, 50/51/54: 4, 57: 2, 55/12/61: ≥ 1).
 *   A second instance of a fixed-size one is {@link Drop.BadLength} too: RFC 3396 §5 says repeated
 *   instances are concatenated, which gives it the wrong size. Of 55/12/61 the first instance is
 *   read (clients do not split them; RFC 3396 allows it, {@link parseDhcpRepr} concatenates);
 * - a missing End option is tolerated when the options run exactly to the end of the datagram
 *   (some embedded clients stop there);
 * - Option Overload (52, RFC 2131 §4.1 / RFC 2132 §9.3) is recorded but `sname`/`file` are not
 *   searched for options: clients do not overload requests in practice, and a server that does
 *   not read them simply sees fewer options.
 *
 * @module
 */
import { u16be, u32be, u48be } from './bytes.js';
import { Drop, type DropCode } from './drop.js';

/** The server's UDP port (RFC 2131 §4.1). */
export const DHCP_SERVER_PORT = 67;
/** The client's UDP port (RFC 2131 §4.1). */
export const DHCP_CLIENT_PORT = 68;

/** Length of the BOOTP fixed header, `op` through `file` (RFC 2131 §2, Figure 1). */
export const BOOTP_FIXED_LEN = 236;
/** The magic cookie 99.130.83.99 (RFC 2131 §3, RFC 2132 §2). */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Offset of the first option, after the cookie. */
export const DHCP_OPTIONS_OFF = 240;
/**
 * Smallest reply we send: RFC 1542 §3.1.1 lets BOOTP relays and old clients discard messages
 * shorter than 300 octets (a 64-byte vendor area), so replies are padded up to it.
 */
export const BOOTP_MIN_LEN = 300;
/** The BROADCAST bit of `flags` (RFC 2131 §2, Figure 2). */
export const BOOTP_BROADCAST_FLAG = 0x8000;

/** `op` values (RFC 2131 §2). */
export const BootpOp = { Request: 1, Reply: 2 } as const;
/** `htype` of Ethernet (RFC 1700 "Hardware Type"), the only one we serve. */
export const HTYPE_ETHERNET = 1;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const DhcpMessageType = { Discover: 1, Offer: 2, Request: 3, Decline: 4, Ack: 5, Nak: 6, Release: 7, Inform: 8 } as const;

/** Option codes we read or write (RFC 2132 sections in comments; 119 is RFC 3397). */
export const DhcpOption = {
  Pad: 0, SubnetMask: 1, Router: 3, DomainNameServer: 6, HostName: 12, DomainName: 15, // §3.1–§3.17
  InterfaceMtu: 26, BroadcastAddress: 28, NtpServers: 42, // §5.1, §5.3, §8.3
  RequestedIpAddress: 50, LeaseTime: 51, Overload: 52, MessageType: 53, ServerIdentifier: 54, // §9.1–§9.7
  ParameterRequestList: 55, Message: 56, MaxMessageSize: 57, RenewalTime: 58, RebindingTime: 59, // §9.8–§9.12
  ClientIdentifier: 61, DomainSearch: 119, End: 255, // §9.14, RFC 3397, §3.2
} as const;

/** Name of a message type for logs and assertion messages (`DHCPDISCOVER`, …). */
export function formatDhcpMessageType(t: number): string {
  const names = ['', 'DHCPDISCOVER', 'DHCPOFFER', 'DHCPREQUEST', 'DHCPDECLINE', 'DHCPACK', 'DHCPNAK', 'DHCPRELEASE', 'DHCPINFORM'];
  return names[t] ?? `DHCP(${t})`;
}

// Fixed-header getters; `off` is the start of the BOOTP message (RFC 2131 §2, Figure 1).
/** `op`: 1 BOOTREQUEST, 2 BOOTREPLY. */
export const dhcpOp = (b: Uint8Array, off: number): number => b[off]!;
/** `htype`: hardware address type (1 = Ethernet). */
export const dhcpHtype = (b: Uint8Array, off: number): number => b[off + 1]!;
/** `hlen`: hardware address length (6 for Ethernet). */
export const dhcpHlen = (b: Uint8Array, off: number): number => b[off + 2]!;
/** `hops`: set by relay agents. */
export const dhcpHops = (b: Uint8Array, off: number): number => b[off + 3]!;
/** `xid`: transaction id chosen by the client, echoed in replies. */
export const dhcpXid = (b: Uint8Array, off: number): number => u32be(b, off + 4);
/** `secs`: seconds since the client began. */
export const dhcpSecs = (b: Uint8Array, off: number): number => u16be(b, off + 8);
/** `flags`: the BROADCAST bit ({@link BOOTP_BROADCAST_FLAG}) and zeros. */
export const dhcpFlags = (b: Uint8Array, off: number): number => u16be(b, off + 10);
/** `ciaddr`: the client's address when it has one (RENEWING, REBINDING, INFORM, RELEASE). */
export const dhcpCiaddr = (b: Uint8Array, off: number): number => u32be(b, off + 12);
/** `yiaddr`: "your" address, set by the server. */
export const dhcpYiaddr = (b: Uint8Array, off: number): number => u32be(b, off + 16);
/** `siaddr`: next bootstrap server. */
export const dhcpSiaddr = (b: Uint8Array, off: number): number => u32be(b, off + 20);
/** `giaddr`: relay agent address, 0 without a relay. */
export const dhcpGiaddr = (b: Uint8Array, off: number): number => u32be(b, off + 24);
/** The first six octets of `chaddr` as a MAC number (meaningful when htype/hlen are Ethernet's). */
export const dhcpChaddrMac = (b: Uint8Array, off: number): number => u48be(b, off + 28);

/**
 * Walks an options field without allocating: after each successful {@link next}, the option's
 * code is in {@link code} and its data in `buf[dataOff, dataOff+dataLen)`. Pad is skipped.
 */
export class DhcpOptionCursor {
  code = 0;
  dataOff = 0;
  dataLen = 0;
  /** Set when the walk stopped on an option that runs past the end. */
  malformed = false;
  /** Set when the walk stopped on End (255). */
  sawEnd = false;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;

  /** Starts a walk over `b[off, end)`. */
  reset(b: Uint8Array, off: number, end: number): this {
    this.buf = b;
    this.pos = off;
    this.end = end;
    this.malformed = false;
    this.sawEnd = false;
    return this;
  }

  /** Advances to the next option; false at End, at the end of the field, or on a malformed option. */
  next(): boolean {
    const b = this.buf;
    while (this.pos < this.end) {
      const code = b[this.pos]!;
      // RFC 2132 §3.1/§3.2: Pad and End are the only one-octet options.
      if (code === DhcpOption.Pad) {
        this.pos++;
        continue;
      }
      if (code === DhcpOption.End) {
        this.sawEnd = true;
        return false;
      }
      if (this.pos + 2 > this.end) break;
      const len = b[this.pos + 1]!;
      if (this.pos + 2 + len > this.end) break;
      this.code = code;
      this.dataOff = this.pos + 2;
      this.dataLen = len;
      this.pos += 2 + len;
      return true;
    }
    if (this.pos < this.end) this.malformed = true;
    return false;
  }
}

/** What {@link parseDhcp} found; reused, valid until the next parse. Absent options are -1 / 0-length. */
export class DhcpInfo {
  buf: Uint8Array = new Uint8Array(0);
  /** Start of the BOOTP message and its length (the UDP payload). */
  off = 0;
  len = 0;
  /** Option 53, 0 when absent (then the message is BOOTP, which we do not serve). */
  messageType = 0;
  /** Option 50, or -1. */
  requestedIp = -1;
  /** Option 54, or -1. */
  serverId = -1;
  /** Option 51 in seconds, or -1. */
  leaseTime = -1;
  /** Option 52 (1 file, 2 sname, 3 both), 0 when absent. */
  overload = 0;
  /** Option 57, 0 when absent. */
  maxMessageSize = 0;
  /** Option 55 as a byte range, length 0 when absent. */
  prlOff = 0;
  prlLen = 0;
  /** Option 12 as a byte range (NVT ASCII, RFC 2132 §3.14), length 0 when absent. */
  hostNameOff = 0;
  hostNameLen = 0;
  /** Option 61 as a byte range, length 0 when absent. */
  clientIdOff = 0;
  clientIdLen = 0;
}

const cursor = new DhcpOptionCursor();

/**
 * Validates the DHCP message in `b[off, off+len)` and fills `info`. Returns {@link Drop.None},
 * {@link Drop.Truncated} (shorter than header + cookie), {@link Drop.Unsupported} (no DHCP magic
 * cookie: BOOTP) or {@link Drop.BadLength} (an option runs past the end, or an option we read
 * has the wrong size). Never throws.
 */
export function parseDhcp(b: Uint8Array, off: number, len: number, info: DhcpInfo): DropCode {
  info.buf = b;
  info.off = off;
  info.len = len;
  info.messageType = 0;
  info.requestedIp = -1;
  info.serverId = -1;
  info.leaseTime = -1;
  info.overload = 0;
  info.maxMessageSize = 0;
  info.prlLen = 0;
  info.hostNameLen = 0;
  info.clientIdLen = 0;
  if (len < DHCP_OPTIONS_OFF || off < 0 || off + len > b.length) return Drop.Truncated;
  if (u32be(b, off + BOOTP_FIXED_LEN) !== DHCP_MAGIC_COOKIE) return Drop.Unsupported;
  const c = cursor.reset(b, off + DHCP_OPTIONS_OFF, off + len);
  // A value of 0 is legal for these, so "already seen" needs its own flag.
  let overloadSeen = false;
  let maxSizeSeen = false;
  let typeSeen = false;
  while (c.next()) {
    const d = c.dataOff;
    const n = c.dataLen;
    switch (c.code) {
      case DhcpOption.MessageType:
        if (n !== 1 || typeSeen) return Drop.BadLength;
        typeSeen = true;
        info.messageType = b[d]!;
        break;
      case DhcpOption.RequestedIpAddress:
        if (n !== 4 || info.requestedIp >= 0) return Drop.BadLength;
        info.requestedIp = u32be(b, d);
        break;
      case DhcpOption.ServerIdentifier:
        if (n !== 4 || info.serverId >= 0) return Drop.BadLength;
        info.serverId = u32be(b, d);
        break;
      case DhcpOption.LeaseTime:
        if (n !== 4 || info.leaseTime >= 0) return Drop.BadLength;
        info.leaseTime = u32be(b, d);
        break;
      case DhcpOption.Overload:
        if (n !== 1 || overloadSeen) return Drop.BadLength;
        overloadSeen = true;
        info.overload = b[d]!;
        break;
      case DhcpOption.MaxMessageSize:
        if (n !== 2 || maxSizeSeen) return Drop.BadLength;
        maxSizeSeen = true;
        info.maxMessageSize = u16be(b, d);
        break;
      case DhcpOption.ParameterRequestList:
        if (n === 0) return Drop.BadLength;
        if (info.prlLen === 0) {
          info.prlOff = d;
          info.prlLen = n;
        }
        break;
      case DhcpOption.HostName:
        if (n === 0) return Drop.BadLength;
        if (info.hostNameLen === 0) {
          info.hostNameOff = d;
          info.hostNameLen = n;
        }
        break;
      case DhcpOption.ClientIdentifier:
        if (n === 0) return Drop.BadLength;
        if (info.clientIdLen === 0) {
          info.clientIdOff = d;
          info.clientIdLen = n;
        }
        break;
      default:
        break;
    }
  }
  return c.malformed ? Drop.BadLength : Drop.None;
}

/** Whether the Parameter Request List of `info` (option 55) lists `code`. */
export function dhcpRequests(info: DhcpInfo, code: number): boolean {
  const b = info.buf;
  for (let i = info.prlOff, end = info.prlOff + info.prlLen; i < end; i++) if (b[i] === code) return true;
  return false;
}

/**
 * The client's host name (option 12) as printable ASCII, or undefined when absent or empty after
 * dropping what is not a letter, digit, `-`, `_` or `.` (RFC 2132 §3.14 says NVT ASCII; RFC 1123
 * §2.1 host names use letters, digits and hyphens, and real guests also send `_`). A trailing NUL,
 * which some clients add, is dropped too. Allocates: called once per accepted request.
 */
export function dhcpHostName(info: DhcpInfo): string | undefined {
  let s = '';
  for (let i = info.hostNameOff, end = info.hostNameOff + info.hostNameLen; i < end; i++) {
    const ch = info.buf[i]!;
    const ok = (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a) || ch === 0x2d || ch === 0x2e || ch === 0x5f;
    if (ok) s += String.fromCharCode(ch);
  }
  return s.length > 0 ? s : undefined;
}
