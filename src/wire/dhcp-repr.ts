/**
 * Whole BOOTP/DHCP messages as plain objects ({@link DhcpRepr}): {@link emitDhcp} builds the
 * server's replies (a handful per guest per lease, so a plain object is fine), and
 * {@link parseDhcpRepr} reads a message whole for tests, tools and oracles. The request path
 * uses the allocation-free view in `dhcp.ts`.
 * @module
 */
import { setU16be, setU32be, setU48be } from './bytes.js';
import { Drop } from './drop.js';
import { BOOTP_FIXED_LEN, BOOTP_MIN_LEN, DHCP_MAGIC_COOKIE, DHCP_OPTIONS_OFF, dhcpChaddrMac, dhcpCiaddr, dhcpFlags, dhcpGiaddr, dhcpHlen, dhcpHops, dhcpHtype, DhcpInfo, dhcpOp, DhcpOption, DhcpOptionCursor, dhcpSecs, dhcpSiaddr, dhcpXid, dhcpYiaddr, HTYPE_ETHERNET, parseDhcp } from './dhcp.js';

/** One option of a {@link DhcpRepr}: its code and data (data longer than 255 bytes is split, RFC 3396). */
export interface DhcpOptionData {
  readonly code: number;
  readonly data: Uint8Array;
}

/** A whole BOOTP/DHCP message as plain fields, for building replies and for tests. */
export interface DhcpRepr {
  readonly op: number;
  readonly htype?: number;
  readonly hlen?: number;
  readonly hops?: number;
  readonly xid: number;
  readonly secs?: number;
  readonly flags: number;
  readonly ciaddr: number;
  readonly yiaddr: number;
  readonly siaddr: number;
  readonly giaddr: number;
  /** Client hardware address as a MAC number (written into the first 6 octets of `chaddr`). */
  readonly chaddr: number;
  /** In the order they are to be written; End is added by the emitter. */
  readonly options: readonly DhcpOptionData[];
}

/** Bytes {@link emitDhcp} writes for `r`: header, cookie, options (split per RFC 3396), End, padding to 300. */
export function dhcpReprLength(r: DhcpRepr): number {
  let n = DHCP_OPTIONS_OFF;
  for (const o of r.options) {
    const pieces = Math.max(1, Math.ceil(o.data.length / 255));
    n += pieces * 2 + o.data.length;
  }
  n += 1;
  return Math.max(n, BOOTP_MIN_LEN);
}

/**
 * Writes `r` at `b[off…]` and returns the length written ({@link dhcpReprLength}). The buffer must
 * have that much room; every byte of the message is written (stale buffer contents never leak).
 */
export function emitDhcp(r: DhcpRepr, b: Uint8Array, off: number): number {
  const total = dhcpReprLength(r);
  b.fill(0, off, off + total);
  b[off] = r.op;
  b[off + 1] = r.htype ?? HTYPE_ETHERNET;
  b[off + 2] = r.hlen ?? 6;
  b[off + 3] = r.hops ?? 0;
  setU32be(b, off + 4, r.xid);
  setU16be(b, off + 8, r.secs ?? 0);
  setU16be(b, off + 10, r.flags);
  setU32be(b, off + 12, r.ciaddr);
  setU32be(b, off + 16, r.yiaddr);
  setU32be(b, off + 20, r.siaddr);
  setU32be(b, off + 24, r.giaddr);
  setU48be(b, off + 28, r.chaddr);
  setU32be(b, off + BOOTP_FIXED_LEN, DHCP_MAGIC_COOKIE);
  let p = off + DHCP_OPTIONS_OFF;
  for (const o of r.options) {
    // RFC 3396 §7: an option longer than 255 octets is sent as consecutive instances of the same
    // code, which the receiver concatenates. An empty option is still one instance.
    let i = 0;
    do {
      const n = Math.min(255, o.data.length - i);
      b[p] = o.code;
      b[p + 1] = n;
      b.set(o.data.subarray(i, i + n), p + 2);
      p += 2 + n;
      i += n;
    } while (i < o.data.length);
  }
  b[p] = DhcpOption.End;
  return total;
}

/**
 * Parses a whole message into a {@link DhcpRepr} (options in order, split options concatenated
 * per RFC 3396). Allocates; for tests, tools and oracles, not the request path. Undefined when
 * {@link parseDhcp} would drop it.
 */
export function parseDhcpRepr(b: Uint8Array, off: number, len: number): DhcpRepr | undefined {
  if (parseDhcp(b, off, len, new DhcpInfo()) !== Drop.None) return undefined;
  const options: DhcpOptionData[] = [];
  const c = new DhcpOptionCursor().reset(b, off + DHCP_OPTIONS_OFF, off + len);
  while (c.next()) {
    const data = b.slice(c.dataOff, c.dataOff + c.dataLen);
    const prev = options.findIndex((o) => o.code === c.code);
    if (prev >= 0) {
      const joined = new Uint8Array(options[prev]!.data.length + data.length);
      joined.set(options[prev]!.data);
      joined.set(data, options[prev]!.data.length);
      options[prev] = { code: c.code, data: joined };
    } else options.push({ code: c.code, data });
  }
  return {
    op: dhcpOp(b, off),
    htype: dhcpHtype(b, off),
    hlen: dhcpHlen(b, off),
    hops: dhcpHops(b, off),
    xid: dhcpXid(b, off),
    secs: dhcpSecs(b, off),
    flags: dhcpFlags(b, off),
    ciaddr: dhcpCiaddr(b, off),
    yiaddr: dhcpYiaddr(b, off),
    siaddr: dhcpSiaddr(b, off),
    giaddr: dhcpGiaddr(b, off),
    chaddr: dhcpChaddrMac(b, off),
    options,
  };
}

/** Option data helpers for building a {@link DhcpRepr}. */
export const dhcpOpt = {
  u8: (code: number, v: number): DhcpOptionData => ({ code, data: Uint8Array.of(v) }),
  u16: (code: number, v: number): DhcpOptionData => ({ code, data: Uint8Array.of(v >>> 8, v & 255) }),
  u32: (code: number, v: number): DhcpOptionData => {
    const data = new Uint8Array(4);
    setU32be(data, 0, v);
    return { code, data };
  },
  /** One or more IPv4 addresses (u32 each). */
  ips: (code: number, ips: readonly number[]): DhcpOptionData => {
    const data = new Uint8Array(4 * ips.length);
    ips.forEach((ip, i) => setU32be(data, 4 * i, ip));
    return { code, data };
  },
  /** ASCII text (RFC 2132 NVT ASCII, no terminating NUL). */
  text: (code: number, s: string): DhcpOptionData => ({ code, data: Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0x7f) }),
  bytes: (code: number, data: Uint8Array): DhcpOptionData => ({ code, data }),
};
