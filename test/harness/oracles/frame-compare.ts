/**
 * Puts a `FrameInfo` from `src/wire/frame-info.ts` and a {@link RefFrame} from the reference
 * parser into one comparable shape, so tests can require agreement on the drop reason and on
 * every parsed field with a single deep-equality assertion.
 * @module
 */
import type { FrameInfo } from '../../../src/wire/frame-info.js';
import type { TcpOptions } from '../../../src/wire/tcp.js';
import type { RefFrame, RefTcpOptions } from './frame-ref.js';

/** The fields of a parse that tests compare; offsets are relative to the frame start. */
export interface ComparableFrame {
  drop: string;
  dstMac?: number;
  srcMac?: number;
  etherType?: number;
  l3?: number;
  ipHeaderLen?: number;
  ipTotalLen?: number;
  protocol?: number;
  srcIp?: number;
  dstIp?: number;
  fragment?: boolean;
  l4?: number;
  l4Len?: number;
  srcPort?: number;
  dstPort?: number;
  payload?: number;
  payloadLen?: number;
}

/**
 * What a `FrameInfo` must hold for the reference's verdict. On a drop only the reason and the
 * Ethernet fields (when there were 14 bytes) are pinned down; on acceptance every field is, and
 * fields that do not apply (IP fields of an ARP frame, ports of ICMP) must be 0.
 */
export function expectedFrom(ref: RefFrame): ComparableFrame {
  const out: ComparableFrame = { drop: ref.drop };
  if (ref.eth) Object.assign(out, { dstMac: ref.eth.dst, srcMac: ref.eth.src, etherType: ref.eth.type });
  if (ref.drop !== 'none') return out;
  out.l3 = 14;
  const ip = ref.ip;
  const l4 = ref.l4;
  Object.assign(out, {
    ipHeaderLen: ip?.headerLen ?? 0,
    ipTotalLen: ip?.totalLen ?? 0,
    protocol: ip?.protocol ?? 0,
    srcIp: ip?.src ?? 0,
    dstIp: ip?.dst ?? 0,
    fragment: ip?.fragment ?? false,
    l4: l4?.start ?? 0,
    l4Len: l4?.len ?? 0,
    srcPort: l4?.srcPort ?? 0,
    dstPort: l4?.dstPort ?? 0,
    payload: l4?.payload ?? 0,
    payloadLen: l4?.payloadLen ?? 0,
  });
  return out;
}

/**
 * The same shape read from a `FrameInfo` after `parseFrame` returned `code`, keeping only the
 * fields {@link expectedFrom} pins down for that verdict. `names` maps drop codes to names.
 */
export function comparableOf(info: FrameInfo, code: number, names: readonly string[]): ComparableFrame {
  const out: ComparableFrame = { drop: names[code] ?? `code${code}` };
  if (info.len >= 14) Object.assign(out, { dstMac: info.dstMac, srcMac: info.srcMac, etherType: info.etherType });
  if (code !== 0) return out;
  const rel = (abs: number): number => (abs === 0 ? 0 : abs - info.off);
  Object.assign(out, {
    l3: rel(info.l3),
    ipHeaderLen: info.ipHeaderLen,
    ipTotalLen: info.ipTotalLen,
    protocol: info.protocol,
    srcIp: info.srcIp,
    dstIp: info.dstIp,
    fragment: info.fragment,
    l4: rel(info.l4),
    l4Len: info.l4Len,
    srcPort: info.srcPort,
    dstPort: info.dstPort,
    payload: rel(info.payload),
    payloadLen: info.payloadLen,
  });
  return out;
}

/** A reused `TcpOptions` as the plain value the reference walker returns. */
export function plainOptions(o: TcpOptions): RefTcpOptions {
  const sack: Array<[number, number]> = [];
  for (let k = 0; k < o.sackCount; k++) sack.push([o.sack[2 * k]!, o.sack[2 * k + 1]!]);
  return {
    mss: o.mss,
    windowScale: o.windowScale,
    sackPermitted: o.sackPermitted,
    hasTimestamps: o.hasTimestamps,
    tsVal: o.tsVal,
    tsEcr: o.tsEcr,
    sack,
    malformed: o.malformed,
  };
}
