/**
 * One pass over a frame: Ethernet, then ARP or IPv4, then the IPv4 payload's transport header.
 * The result lands in a reused {@link FrameInfo} (one per consumer, never per frame), so the
 * gateway demultiplexes without allocating. Every offset is absolute into the frame's buffer.
 * @module
 */
import { checkArp } from './arp.js';
import { Drop, type DropCode } from './drop.js';
import { checkEthernet, ethDst, ethSrc, ethType, EtherType, ETH_HLEN } from './ethernet.js';
import { checkIcmp } from './icmpv4.js';
import { checkIpv4, ipDst, ipHeaderLength, ipIsFragment, ipProtocol, ipSrc, ipTotalLength, IpProto } from './ipv4.js';
import { checkTcp, tcpDstPort, tcpHeaderLength, tcpSrcPort } from './tcp.js';
import { checkUdp, udpDstPort, udpLength, udpSrcPort } from './udp.js';

/** Parsed positions and addresses of one frame; reused, valid until the next parse. */
export class FrameInfo {
  buf: Uint8Array = new Uint8Array(0);
  /** Frame start and length as delivered. */
  off = 0;
  len = 0;
  dstMac = 0;
  srcMac = 0;
  etherType = 0;
  /** Start of the L3 header (ARP or IPv4). */
  l3 = 0;
  /** IPv4: header fields. */
  ipHeaderLen = 0;
  ipTotalLen = 0;
  protocol = 0;
  srcIp = 0;
  dstIp = 0;
  fragment = false;
  /** Start of the L4 header and its length (IP payload length). */
  l4 = 0;
  l4Len = 0;
  /** TCP/UDP ports; 0 for other protocols. */
  srcPort = 0;
  dstPort = 0;
  /** Start and length of the L4 payload (after the TCP/UDP/ICMP header). */
  payload = 0;
  payloadLen = 0;
}

/**
 * Fills `info` from `b[off, off+len)`. Returns {@link Drop.None} or why the frame is unusable.
 * Non-IPv4, non-ARP ethertypes return {@link Drop.Unsupported} after the Ethernet fields are set.
 * IPv4 fragments are returned with `fragment = true` and no L4 parsing (the caller reassembles
 * or drops them). L4 checksums are verified when `verifyChecksums` is set. Every field is reset
 * first, so nothing from the previous frame survives (an ARP frame after a TCP one has
 * `protocol` 0, not 6); on a drop, fields are filled as far as parsing got and the rest are 0.
 */
export function parseFrame(b: Uint8Array, off: number, len: number, info: FrameInfo, verifyChecksums = true): DropCode {
  info.buf = b;
  info.off = off;
  info.len = len;
  info.dstMac = 0;
  info.srcMac = 0;
  info.etherType = 0;
  info.l3 = 0;
  info.ipHeaderLen = 0;
  info.ipTotalLen = 0;
  info.protocol = 0;
  info.srcIp = 0;
  info.dstIp = 0;
  info.fragment = false;
  info.l4 = 0;
  info.l4Len = 0;
  info.srcPort = 0;
  info.dstPort = 0;
  info.payload = 0;
  info.payloadLen = 0;
  let r: DropCode = checkEthernet(len);
  if (r !== Drop.None) return r;
  info.dstMac = ethDst(b, off);
  info.srcMac = ethSrc(b, off);
  info.etherType = ethType(b, off);
  const l3 = off + ETH_HLEN;
  info.l3 = l3;
  const l3len = len - ETH_HLEN;
  if (info.etherType === EtherType.ARP) return checkArp(b, l3, l3len);
  if (info.etherType !== EtherType.IPv4) return Drop.Unsupported;
  r = checkIpv4(b, l3, l3len, verifyChecksums);
  if (r !== Drop.None) return r;
  const hl = ipHeaderLength(b, l3);
  const total = ipTotalLength(b, l3);
  info.ipHeaderLen = hl;
  info.ipTotalLen = total;
  info.protocol = ipProtocol(b, l3);
  info.srcIp = ipSrc(b, l3);
  info.dstIp = ipDst(b, l3);
  const l4 = l3 + hl;
  info.l4 = l4;
  info.l4Len = total - hl;
  info.payload = l4;
  info.payloadLen = info.l4Len;
  if (ipIsFragment(b, l3)) {
    info.fragment = true;
    return Drop.None;
  }
  switch (info.protocol) {
    case IpProto.TCP: {
      r = checkTcp(b, l4, info.l4Len, info.srcIp, info.dstIp, verifyChecksums);
      if (r !== Drop.None) return r;
      info.srcPort = tcpSrcPort(b, l4);
      info.dstPort = tcpDstPort(b, l4);
      const th = tcpHeaderLength(b, l4);
      info.payload = l4 + th;
      info.payloadLen = info.l4Len - th;
      return Drop.None;
    }
    case IpProto.UDP: {
      r = checkUdp(b, l4, info.l4Len, info.srcIp, info.dstIp, verifyChecksums);
      if (r !== Drop.None) return r;
      info.srcPort = udpSrcPort(b, l4);
      info.dstPort = udpDstPort(b, l4);
      info.payload = l4 + 8;
      info.payloadLen = udpLength(b, l4) - 8;
      return Drop.None;
    }
    case IpProto.ICMP: {
      r = checkIcmp(b, l4, info.l4Len, verifyChecksums);
      if (r !== Drop.None) return r;
      info.payload = l4 + 8;
      info.payloadLen = info.l4Len - 8;
      return Drop.None;
    }
    default:
      return Drop.None;
  }
}
