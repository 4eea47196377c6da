/**
 * Crafted guest segments as real frames: Ethernet + IPv4 + TCP with options and correct checksums,
 * parsed by the production `parseFrame` into a `FrameInfo` — so tests feed the endpoint exactly
 * what the gateway would. Field defaults come from a template (smoltcp's SEND_TEMPL).
 * @module
 */
import { setU16be, setU32be } from '../../../src/wire/bytes.js';
import { ETH_HLEN, EtherType, writeEthernet } from '../../../src/wire/ethernet.js';
import { Drop } from '../../../src/wire/drop.js';
import { FrameInfo, parseFrame } from '../../../src/wire/frame-info.js';
import { IpProto, writeIpv4 } from '../../../src/wire/ipv4.js';
import { TcpFlag, TcpOpt, writeTcpChecksum, writeTcpHeader } from '../../../src/wire/tcp.js';
import { formatSegment, type SegmentFields } from '../../../src/stack/tcp/segment.js';
import type { Captured } from './capture-output.js';

/** What a crafted segment may set; everything else comes from the template. */
export interface SegSpec {
  srcIp?: number;
  dstIp?: number;
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  payload?: string | Uint8Array;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** [TSval, TSecr]. */
  ts?: readonly [number, number];
  sack?: ReadonlyArray<readonly [number, number]>;
}

export const { SYN, ACK, FIN, RST, PSH } = TcpFlag;

/** Builds the frame for `s` and parses it into a fresh {@link FrameInfo}. */
export function frame(s: Required<Pick<SegSpec, 'srcIp' | 'dstIp' | 'srcPort' | 'dstPort' | 'seq' | 'ack' | 'flags' | 'window'>> & SegSpec): FrameInfo {
  const payload = typeof s.payload === 'string' ? Buffer.from(s.payload) : (s.payload ?? new Uint8Array(0));
  const opts: number[] = [];
  if (s.mss !== undefined) opts.push(TcpOpt.Mss, 4, s.mss >>> 8, s.mss & 255);
  if (s.sackPermitted) opts.push(TcpOpt.Nop, TcpOpt.Nop, TcpOpt.SackPermitted, 2);
  if (s.ts !== undefined) {
    const t = Buffer.alloc(10);
    t[0] = TcpOpt.Timestamps;
    t[1] = 10;
    setU32be(t, 2, s.ts[0]);
    setU32be(t, 6, s.ts[1]);
    opts.push(TcpOpt.Nop, TcpOpt.Nop, ...t);
  }
  if (s.windowScale !== undefined) opts.push(TcpOpt.Nop, TcpOpt.WindowScale, 3, s.windowScale);
  if (s.sack !== undefined && s.sack.length > 0) {
    const t = Buffer.alloc(2 + 8 * s.sack.length);
    t[0] = TcpOpt.Sack;
    t[1] = t.length;
    s.sack.forEach(([l, r], k) => {
      setU32be(t, 2 + 8 * k, l >>> 0);
      setU32be(t, 6 + 8 * k, r >>> 0);
    });
    opts.push(TcpOpt.Nop, TcpOpt.Nop, ...t);
  }
  while (opts.length % 4 !== 0) opts.push(TcpOpt.Nop);
  const hlen = 20 + opts.length;
  const segLen = hlen + payload.length;
  const total = ETH_HLEN + 20 + segLen;
  const b = Buffer.alloc(total);
  writeEthernet(b, 0, 0x020000000001, 0x525400123456, EtherType.IPv4);
  writeIpv4(b, ETH_HLEN, 20 + segLen, 1, 64, IpProto.TCP, s.srcIp, s.dstIp);
  const l4 = ETH_HLEN + 20;
  writeTcpHeader(b, l4, s.srcPort, s.dstPort, s.seq >>> 0, s.ack >>> 0, hlen, s.flags, s.window);
  Buffer.from(opts).copy(b, l4 + 20);
  b.set(payload, l4 + hlen);
  writeTcpChecksum(b, l4, segLen, s.srcIp, s.dstIp);
  const info = new FrameInfo();
  const r = parseFrame(b, 0, total, info);
  if (r !== Drop.None) throw new Error(`segments.frame: crafted frame does not parse (${r})`);
  setU16be(b, 0, 0x0200); // scribble on the Ethernet header: the endpoint must not look there
  return info;
}

/** What a test expects the endpoint to send: fields (options only when listed) and payload. */
export interface Expected extends Partial<SegmentFields> {
  payload?: string | Uint8Array;
}

/** Formats an expected or captured segment for exact comparison (options included only if present). */
export function describe(s: SegmentFields & { payload?: string | Uint8Array }): string {
  const p = s.payload === undefined ? '' : typeof s.payload === 'string' ? s.payload : Buffer.from(s.payload).toString('latin1');
  return `${formatSegment(s)}${p.length > 0 ? ` "${p.length > 40 ? `${p.slice(0, 40)}…(${p.length})` : p}"` : ''}`;
}

/** Renders a captured segment the same way. */
export function describeCaptured(c: Captured): string {
  return describe({ ...c, payload: c.payload.toString('latin1') });
}

