/**
 * Builders of whole frames for in-process tests, made with the wire writers (whose own byte-level
 * correctness is checked against captures in test/wire/).
 */
import { parseIpv4, parseMac } from '../../src/wire/address.js';
import { ArpOp, writeArp } from '../../src/wire/arp.js';
import { EtherType, writeEthernet } from '../../src/wire/ethernet.js';
import { IcmpType, writeIcmp } from '../../src/wire/icmpv4.js';
import { IpProto, writeIpv4 } from '../../src/wire/ipv4.js';
import { writeUdp } from '../../src/wire/udp.js';
import { writeTcpChecksum, writeTcpHeader } from '../../src/wire/tcp.js';

const ip = (s: string): number => parseIpv4(s)!;
const mac = (s: string): number => parseMac(s)!;

export function arpRequest(srcMac: string, srcIp: string, targetIp: string): Buffer {
  const b = Buffer.alloc(60);
  writeEthernet(b, 0, 0xffffffffffff, mac(srcMac), EtherType.ARP);
  writeArp(b, 14, ArpOp.Request, mac(srcMac), ip(srcIp), 0, ip(targetIp));
  return b;
}

export function ipv4Packet(dstMac: string, srcMac: string, src: string, dst: string, proto: number, l4: Buffer, flagsFrag = 0x4000): Buffer {
  const b = Buffer.alloc(14 + 20 + l4.length);
  writeEthernet(b, 0, mac(dstMac), mac(srcMac), EtherType.IPv4);
  l4.copy(b, 34);
  writeIpv4(b, 14, 20 + l4.length, 1, 64, proto, ip(src), ip(dst), flagsFrag);
  return b;
}

export function icmpEcho(dstMac: string, srcMac: string, src: string, dst: string, id: number, seq: number, data: Buffer = Buffer.from('ping-data')): Buffer {
  const l4 = Buffer.alloc(8 + data.length);
  data.copy(l4, 8);
  writeIcmp(l4, 0, l4.length, IcmpType.EchoRequest, 0, (id << 16) | seq);
  return ipv4Packet(dstMac, srcMac, src, dst, IpProto.ICMP, l4);
}

export function udpPacket(dstMac: string, srcMac: string, src: string, sport: number, dst: string, dport: number, data: Buffer): Buffer {
  const l4 = Buffer.alloc(8 + data.length);
  data.copy(l4, 8);
  writeUdp(l4, 0, sport, dport, l4.length, ip(src), ip(dst));
  return ipv4Packet(dstMac, srcMac, src, dst, IpProto.UDP, l4);
}

/** A bare TCP segment (no options, no payload) with a correct checksum. */
export function tcpPacket(dstMac: string, srcMac: string, src: string, sport: number, dst: string, dport: number, flags: number, seq: number, ack = 0): Buffer {
  const l4 = Buffer.alloc(20);
  writeTcpHeader(l4, 0, sport, dport, seq, ack, 20, flags, 65535);
  const f = ipv4Packet(dstMac, srcMac, src, dst, IpProto.TCP, l4);
  writeTcpChecksum(f, 34, 20, ip(src), ip(dst));
  return f;
}
