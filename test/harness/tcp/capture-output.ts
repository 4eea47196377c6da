/**
 * A fake `Ipv4Output` for TCP tests: segments are built in one scratch buffer (Ethernet and IPv4
 * headers skipped) and captured as plain records on commit. It can pretend the guest's NIC queue
 * is full (`full = true` → `TxFull`) or that the guest's MAC is unknown (`unresolved = true`).
 * @module
 */
import type { TcpPacketOutput } from '../../../src/stack/tcp/output.js';
import { segmentFields, type SegmentFields } from '../../../src/stack/tcp/segment.js';
import { Drop, type DropCode } from '../../../src/wire/drop.js';
import { FrameInfo } from '../../../src/wire/frame-info.js';
import { checkTcp, tcpDstPort, tcpHeaderLength, tcpSrcPort } from '../../../src/wire/tcp.js';
import { Segment } from '../../../src/stack/tcp/segment.js';

/** One segment the endpoint sent. */
export interface Captured extends SegmentFields {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

const L4 = 34;

/** Captures every committed segment. */
export class CaptureOutput implements TcpPacketOutput {
  readonly l4 = L4;
  lastDrop: DropCode = Drop.None;
  readonly sent: Captured[] = [];
  /** Answer `TxFull` to every `begin` while set. */
  full = false;
  /** Answer "unknown MAC" to every `begin` while set. */
  unresolved = false;
  /** Called after each capture (links in simulations use it). */
  onSegment: ((c: Captured, raw: Uint8Array, off: number, len: number) => void) | undefined;
  private readonly buf = Buffer.alloc(L4 + 70000);
  private src = 0;
  private dst = 0;
  private len = 0;
  private readonly info = new FrameInfo();
  private readonly seg = new Segment();

  constructor(readonly mtu = 1500) {}

  begin(src: number, dst: number, protocol: number, payloadLen: number): Uint8Array | undefined {
    if (protocol !== 6) throw new Error('CaptureOutput: not TCP');
    if (this.full) {
      this.lastDrop = Drop.TxFull;
      return undefined;
    }
    if (this.unresolved) {
      this.lastDrop = Drop.NotForUs;
      return undefined;
    }
    if (payloadLen + 20 > this.mtu) throw new Error(`CaptureOutput: packet of ${payloadLen + 20} bytes exceeds MTU ${this.mtu}`);
    this.buf.fill(0xa5, L4, L4 + payloadLen);
    this.src = src;
    this.dst = dst;
    this.len = payloadLen;
    this.lastDrop = Drop.None;
    return this.buf;
  }

  commit(): void {
    const b = this.buf;
    const r = checkTcp(b, L4, this.len, this.src, this.dst, true);
    if (r !== Drop.None) throw new Error(`CaptureOutput: the endpoint emitted a bad segment (drop code ${r})`);
    const info = this.info;
    info.buf = b;
    info.l4 = L4;
    info.l4Len = this.len;
    info.srcIp = this.src;
    info.dstIp = this.dst;
    info.srcPort = tcpSrcPort(b, L4);
    info.dstPort = tcpDstPort(b, L4);
    const hl = tcpHeaderLength(b, L4);
    info.payload = L4 + hl;
    info.payloadLen = this.len - hl;
    this.seg.load(info);
    const c: Captured = {
      ...segmentFields(this.seg),
      srcIp: this.src,
      dstIp: this.dst,
      srcPort: info.srcPort,
      dstPort: info.dstPort,
      payload: Buffer.from(b.subarray(info.payload, info.payload + info.payloadLen)),
    };
    this.sent.push(c);
    this.onSegment?.(c, b, L4, this.len);
  }

  portIdOf(_dst: number): number {
    return 7;
  }

  /** Removes and returns everything captured so far. */
  take(): Captured[] {
    return this.sent.splice(0, this.sent.length);
  }
}
