/**
 * TCP header view (RFC 9293 §3.1) and an allocation-free option walker for the options we
 * negotiate: MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK-permitted and
 * SACK blocks (RFC 2018). Offsets relative to the TCP header.
 * @module
 */
import { setU16be, setU32be, u16be, u32be } from './bytes.js';
import { finish, fold, pseudoHeaderSum, sumBytes } from './checksum.js';
import { Drop, type DropCode } from './drop.js';
import { IpProto } from './ipv4.js';

/** Fixed header length (data offset 5). */
export const TCP_HLEN = 20;
/** Flag bits (byte 13). */
export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** Option kinds. */
export const TcpOpt = { End: 0, Nop: 1, Mss: 2, WindowScale: 3, SackPermitted: 4, Sack: 5, Timestamps: 8 } as const;

/** Validates a TCP segment of `segLen` bytes (header + payload) and its checksum. */
export function checkTcp(b: Uint8Array, off: number, segLen: number, src: number, dst: number, verifyChecksum = true): DropCode {
  if (segLen < TCP_HLEN) return Drop.Truncated;
  const hlen = (b[off + 12]! >>> 4) * 4;
  if (hlen < TCP_HLEN) return Drop.BadHeaderLength;
  if (hlen > segLen) return Drop.Truncated;
  if (verifyChecksum) {
    const s = sumBytes(b, off, segLen, pseudoHeaderSum(src, dst, IpProto.TCP, segLen));
    if (fold(s) !== 0xffff) return Drop.BadChecksum;
  }
  return Drop.None;
}

/** Source port. */
export const tcpSrcPort = (b: Uint8Array, off: number): number => u16be(b, off);
/** Destination port. */
export const tcpDstPort = (b: Uint8Array, off: number): number => u16be(b, off + 2);
/** Sequence number. */
export const tcpSeq = (b: Uint8Array, off: number): number => u32be(b, off + 4);
/** Acknowledgment number. */
export const tcpAck = (b: Uint8Array, off: number): number => u32be(b, off + 8);
/** Header length in bytes (data offset × 4), options included. */
export const tcpHeaderLength = (b: Uint8Array, off: number): number => (b[off + 12]! >>> 4) * 4;
/** Flag byte: {@link TcpFlag} bits. */
export const tcpFlags = (b: Uint8Array, off: number): number => b[off + 13]!;
/** Window field, unscaled. */
export const tcpWindow = (b: Uint8Array, off: number): number => u16be(b, off + 14);
/** Checksum field as sent. */
export const tcpChecksum = (b: Uint8Array, off: number): number => u16be(b, off + 16);

/**
 * Options found in one segment. One instance is reused for every segment (fields are reset by
 * {@link parseTcpOptions}); `sackCount` blocks are in `sack` as [left, right) pairs.
 */
export class TcpOptions {
  /** 0 = absent. */
  mss = 0;
  /** -1 = absent; otherwise the shift count (capped at 14, RFC 7323 §2.3). */
  windowScale = -1;
  sackPermitted = false;
  hasTimestamps = false;
  /** TSval and TSecr (RFC 7323 §3); 0 when `hasTimestamps` is false. */
  tsVal = 0;
  tsEcr = 0;
  sackCount = 0;
  readonly sack = new Uint32Array(8);
  /** Whether the option list was malformed (length byte 0/1, runs past the header). */
  malformed = false;
}

/**
 * Walks the options between byte 20 and the data offset; call it only after {@link checkTcp}
 * passed, which guarantees the data offset lies inside the segment. A malformed list (a length
 * byte missing, below 2, or running past the header) stops the walk and sets `malformed`; what
 * was read before the fault stays (Linux likewise ignores the rest). A known option whose
 * length is not its fixed size, or a SACK option that is not 2 + 8n bytes with n >= 1, is
 * skipped, as Linux `tcp_parse_options` does. A later copy of an option overrides an earlier one.
 */
export function parseTcpOptions(b: Uint8Array, off: number, out: TcpOptions): void {
  out.mss = 0;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.hasTimestamps = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  out.sackCount = 0;
  out.malformed = false;
  const end = off + tcpHeaderLength(b, off);
  let i = off + TCP_HLEN;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TcpOpt.End) break;
    if (kind === TcpOpt.Nop) {
      i++;
      continue;
    }
    if (i + 1 >= end) {
      out.malformed = true;
      break;
    }
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) {
      out.malformed = true;
      break;
    }
    switch (kind) {
      case TcpOpt.Mss:
        if (len === 4) out.mss = u16be(b, i + 2);
        break;
      case TcpOpt.WindowScale:
        if (len === 3) out.windowScale = Math.min(b[i + 2]!, 14);
        break;
      case TcpOpt.SackPermitted:
        if (len === 2) out.sackPermitted = true;
        break;
      case TcpOpt.Timestamps:
        if (len === 10) {
          out.hasTimestamps = true;
          out.tsVal = u32be(b, i + 2);
          out.tsEcr = u32be(b, i + 6);
        }
        break;
      case TcpOpt.Sack: {
        // RFC 2018 §3: 2 + 8n bytes; 40 option bytes leave room for at most 4 blocks.
        if (len < 10 || ((len - 2) & 7) !== 0) break;
        const n = Math.min((len - 2) >>> 3, 4);
        for (let k = 0; k < n; k++) {
          out.sack[2 * k] = u32be(b, i + 2 + 8 * k);
          out.sack[2 * k + 1] = u32be(b, i + 6 + 8 * k);
        }
        out.sackCount = n;
        break;
      }
    }
    i += len;
  }
}

/** Writes the fixed 20-byte header (checksum zero; see {@link writeTcpChecksum}). */
export function writeTcpHeader(
  b: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerLength: number,
  flags: number,
  window: number,
): void {
  setU16be(b, off, srcPort);
  setU16be(b, off + 2, dstPort);
  setU32be(b, off + 4, seq);
  setU32be(b, off + 8, ack);
  b[off + 12] = (headerLength >>> 2) << 4;
  b[off + 13] = flags;
  setU16be(b, off + 14, window);
  setU16be(b, off + 16, 0);
  setU16be(b, off + 18, 0);
}

/** Computes and stores the checksum of a segment of `segLen` bytes. */
export function writeTcpChecksum(b: Uint8Array, off: number, segLen: number, src: number, dst: number): void {
  setU16be(b, off + 16, 0);
  setU16be(b, off + 16, finish(sumBytes(b, off, segLen, pseudoHeaderSum(src, dst, IpProto.TCP, segLen))));
}

/** Formats flags like tcpdump (`S.`, `F.`, `R`, `P.`) for logs and test messages. */
export function formatTcpFlags(flags: number): string {
  let s = '';
  if (flags & TcpFlag.SYN) s += 'S';
  if (flags & TcpFlag.FIN) s += 'F';
  if (flags & TcpFlag.RST) s += 'R';
  if (flags & TcpFlag.PSH) s += 'P';
  if (flags & TcpFlag.URG) s += 'U';
  if (flags & TcpFlag.ACK) s += '.';
  return s === '' ? 'none' : s;
}
