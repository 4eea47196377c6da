/**
 * UDP on the gateway: a port table for the gateway's own services (DHCP 67, DNS 53) and a default
 * handler for everything else (the outbound NAT), plus emission of datagrams toward guests written
 * straight into the destination port's buffer.
 * @module
 */
import type { FrameInfo } from '../wire/frame-info.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { IpProto } from '../wire/ipv4.js';
import { UDP_HLEN, writeUdp } from '../wire/udp.js';
import type { Ipv4Emitter } from './ipv4-fragmenter.js';

/** Receives a datagram; `info` and its buffer are borrowed for the duration of the call. */
export type UdpHandler = (info: FrameInfo) => void;

/** Matches any local address in {@link UdpLayer.bind}. */
export const ANY_ADDRESS = -1;

/** The gateway's UDP demultiplexer and sender. */
export class UdpLayer {
  private readonly bound = new Map<number, Map<number, UdpHandler>>();
  /** Datagrams for no bound (ip, port); the NAT installs itself here. */
  fallback: UdpHandler | undefined;
  /** Offset of the UDP payload in the buffer returned by {@link begin}. */
  payloadOff = 0;
  private pend = { src: 0, sport: 0, dst: 0, dport: 0, len: 0, buf: undefined as Uint8Array | undefined, l4: 0 };

  constructor(private readonly out: Ipv4Emitter) {}

  /** Binds a handler to `port` on `ip` (or {@link ANY_ADDRESS}). Returns an unbind function. */
  bind(ip: number, port: number, handler: UdpHandler): () => void {
    let byIp = this.bound.get(port);
    if (byIp === undefined) {
      byIp = new Map();
      this.bound.set(port, byIp);
    }
    byIp.set(ip, handler);
    return () => {
      if (byIp!.get(ip) === handler) byIp!.delete(ip);
    };
  }

  /** Dispatches a parsed, checked UDP datagram. Returns a drop code when nothing took it. */
  input(info: FrameInfo): DropCode {
    const byIp = this.bound.get(info.dstPort);
    if (byIp !== undefined) {
      const h = byIp.get(info.dstIp) ?? byIp.get(ANY_ADDRESS);
      if (h !== undefined) {
        h(info);
        return Drop.None;
      }
    }
    if (this.fallback === undefined) return Drop.NotForUs;
    this.fallback(info);
    return Drop.None;
  }

  /**
   * Starts a datagram of `len` payload bytes; write the payload at {@link payloadOff} of the
   * returned buffer, then {@link commit}. `dstMac` -1 = neighbour lookup.
   */
  begin(src: number, srcPort: number, dst: number, dstPort: number, len: number, dstMac = -1): Uint8Array | undefined {
    const b = this.out.begin(src, dst, IpProto.UDP, UDP_HLEN + len, dstMac);
    if (b === undefined) return undefined;
    const p = this.pend;
    p.src = src;
    p.sport = srcPort;
    p.dst = dst;
    p.dport = dstPort;
    p.len = len;
    p.buf = b;
    p.l4 = this.out.l4;
    this.payloadOff = this.out.l4 + UDP_HLEN;
    return b;
  }

  /** Finishes the datagram started by {@link begin} (checksum) and sends it. */
  commit(): void {
    const p = this.pend;
    writeUdp(p.buf!, p.l4, p.sport, p.dport, UDP_HLEN + p.len, p.src, p.dst);
    p.buf = undefined;
    this.out.commit();
  }

  /** Sends a datagram whose payload is `data` (copied). Returns why it was not sent, or 0. */
  send(src: number, srcPort: number, dst: number, dstPort: number, data: Uint8Array, dstMac = -1): DropCode {
    const b = this.begin(src, srcPort, dst, dstPort, data.length, dstMac);
    if (b === undefined) return this.out.lastDrop;
    b.set(data, this.payloadOff);
    this.commit();
    return Drop.None;
  }
}
