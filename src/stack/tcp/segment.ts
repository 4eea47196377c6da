/**
 * The reused cursor over one incoming TCP segment: header fields read once from the frame the
 * gateway already parsed, options parsed into one reused {@link TcpOptions}. The endpoint owns a
 * single instance, so reading a segment allocates nothing. The payload stays in the frame's buffer
 * (borrowed: valid only during the call).
 * @module
 */
import type { FrameInfo } from '../../wire/frame-info.js';
import { formatIpv4 } from '../../wire/address.js';
import {
  formatTcpFlags,
  parseTcpOptions,
  tcpAck,
  tcpFlags,
  tcpHeaderLength,
  tcpSeq,
  tcpWindow,
  TcpFlag,
  TcpOptions,
  TCP_HLEN,
} from '../../wire/tcp.js';

/** One incoming segment, as fields. */
export class Segment {
  buf: Uint8Array = new Uint8Array(0);
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The raw 16-bit window field (unscaled). */
  window = 0;
  /** Offset and length of the payload in {@link buf}. */
  payload = 0;
  payloadLen = 0;
  readonly opts = new TcpOptions();

  /** Fills the cursor from a frame the gateway parsed (checksums already verified). */
  load(info: FrameInfo): void {
    const b = info.buf;
    const o = info.l4;
    this.buf = b;
    this.srcIp = info.srcIp;
    this.dstIp = info.dstIp;
    this.srcPort = info.srcPort;
    this.dstPort = info.dstPort;
    this.seq = tcpSeq(b, o);
    this.ack = tcpAck(b, o);
    this.flags = tcpFlags(b, o);
    this.window = tcpWindow(b, o);
    this.payload = info.payload;
    this.payloadLen = info.payloadLen;
    if (tcpHeaderLength(b, o) > TCP_HLEN) parseTcpOptions(b, o, this.opts);
    else clearOptions(this.opts);
  }

  /** Sequence space the segment occupies: payload plus one for SYN and one for FIN (RFC 9293 §3.4). */
  get len(): number {
    return this.payloadLen + (this.flags & TcpFlag.SYN ? 1 : 0) + (this.flags & TcpFlag.FIN ? 1 : 0);
  }
}

function clearOptions(o: TcpOptions): void {
  o.mss = 0;
  o.windowScale = -1;
  o.sackPermitted = false;
  o.hasTimestamps = false;
  o.sackCount = 0;
  o.malformed = false;
}

/** The fields of a segment as plain values (what {@link formatSegment} prints; tests build these). */
export interface SegmentFields {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payloadLen: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  tsVal?: number;
  tsEcr?: number;
  /** SACK blocks as [left, right) pairs. */
  sack?: ReadonlyArray<readonly [number, number]>;
}

/**
 * Formats a segment like tcpdump: `[S.] seq 100 ack 201 win 512 len 0 <mss 1460,sackOK,TS 5:0,wscale 7>`.
 * Sequence numbers are absolute so test failures can be compared with captures.
 */
export function formatSegment(s: SegmentFields): string {
  let out = `[${formatTcpFlags(s.flags)}] seq ${s.seq >>> 0}`;
  if (s.flags & TcpFlag.ACK) out += ` ack ${s.ack >>> 0}`;
  out += ` win ${s.window} len ${s.payloadLen}`;
  const o: string[] = [];
  if (s.mss !== undefined) o.push(`mss ${s.mss}`);
  if (s.sackPermitted) o.push('sackOK');
  if (s.tsVal !== undefined) o.push(`TS ${s.tsVal >>> 0}:${(s.tsEcr ?? 0) >>> 0}`);
  if (s.windowScale !== undefined) o.push(`wscale ${s.windowScale}`);
  if (s.sack !== undefined && s.sack.length > 0) o.push(`sack ${s.sack.map(([l, r]) => `${l >>> 0}:${r >>> 0}`).join(' ')}`);
  if (o.length > 0) out += ` <${o.join(',')}>`;
  return out;
}

/** The fields of the segment under a {@link Segment} cursor (copies; for logs and tests). */
export function segmentFields(seg: Segment): SegmentFields {
  const o = seg.opts;
  const f: SegmentFields = { seq: seg.seq, ack: seg.ack, flags: seg.flags, window: seg.window, payloadLen: seg.payloadLen };
  if (o.mss !== 0) f.mss = o.mss;
  if (o.windowScale >= 0) f.windowScale = o.windowScale;
  if (o.sackPermitted) f.sackPermitted = true;
  if (o.hasTimestamps) {
    f.tsVal = o.tsVal;
    f.tsEcr = o.tsEcr;
  }
  if (o.sackCount > 0) {
    const blocks: Array<[number, number]> = [];
    for (let k = 0; k < o.sackCount; k++) blocks.push([o.sack[2 * k]!, o.sack[2 * k + 1]!]);
    f.sack = blocks;
  }
  return f;
}

/** `192.168.65.2:40000 > 1.2.3.4:80` for a segment's addresses. */
export function formatTuple(srcIp: number, srcPort: number, dstIp: number, dstPort: number): string {
  return `${formatIpv4(srcIp)}:${srcPort} > ${formatIpv4(dstIp)}:${dstPort}`;
}
