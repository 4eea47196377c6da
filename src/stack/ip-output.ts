/**
 * How the gateway's protocols put IPv4 packets on the bridge. A producer asks for room for an IP
 * payload of a given size toward a destination; the Ethernet and IPv4 headers are written for it,
 * straight into the destination port's output buffer, and it fills the transport header and payload
 * at {@link Ipv4Output.l4} before calling {@link Ipv4Output.commit}. No object is created per packet.
 *
 * The destination MAC comes from the neighbour cache; when it is unknown an ARP request is sent
 * and the packet is not built (the caller's retransmission covers it).
 * @module
 */
import type { Switch } from '../switch/switch.js';
import { ArpOp, ARP_LEN, writeArp } from '../wire/arp.js';
import { BROADCAST_MAC } from '../wire/address.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { ETH_HLEN, EtherType, writeEthernet } from '../wire/ethernet.js';
import { DEFAULT_TTL, IPV4_DF, IPV4_HLEN, writeIpv4 } from '../wire/ipv4.js';
import type { Neighbours } from './neighbours.js';

/** Emits IPv4 packets from the gateway to guests. */
export class Ipv4Output {
  /** Offset of the L4 header in the buffer returned by {@link begin}. */
  l4 = 0;
  /** Why the last {@link begin} returned undefined. */
  lastDrop: DropCode = Drop.None;
  private ipId = 0;
  private pendingLen = 0;
  /** Packets not built because the destination MAC was unknown. */
  unresolved = 0;

  constructor(
    private readonly sw: Switch,
    private readonly neighbours: Neighbours,
    /** The gateway's MAC (source of every frame). */
    readonly mac: number,
    /** The address ARP requests are sent from. */
    private readonly arpSourceIp: number,
    /** Largest IP packet a guest accepts (the link MTU). */
    readonly mtu: number,
  ) {}

  /**
   * Starts a packet of `payloadLen` bytes of IP payload from `src` to `dst`. Returns the buffer to
   * write the L4 header and payload into at {@link l4}, or undefined (see {@link lastDrop}).
   * `dstMac` overrides the neighbour lookup (replies go back to the frame's source; broadcast for
   * DHCP).
   */
  begin(src: number, dst: number, protocol: number, payloadLen: number, dstMac = -1, flagsFrag = IPV4_DF, ttl = DEFAULT_TTL): Uint8Array | undefined {
    const total = IPV4_HLEN + payloadLen;
    if (total > this.mtu && (flagsFrag & IPV4_DF) !== 0) {
      this.lastDrop = Drop.TooBig;
      return undefined;
    }
    let mac = dstMac;
    if (mac < 0) {
      mac = this.neighbours.lookup(dst);
      if (mac < 0) {
        this.unresolved++;
        this.requestArp(dst);
        this.lastDrop = Drop.NotForUs;
        return undefined;
      }
    }
    const len = ETH_HLEN + total;
    const b = this.sw.begin(mac, len);
    if (b === undefined) {
      this.lastDrop = Drop.TxFull;
      return undefined;
    }
    const o = this.sw.txOff;
    writeEthernet(b, o, mac, this.mac, EtherType.IPv4);
    this.ipId = (this.ipId + 1) & 0xffff;
    writeIpv4(b, o + ETH_HLEN, total, this.ipId, ttl, protocol, src, dst, flagsFrag);
    this.l4 = o + ETH_HLEN + IPV4_HLEN;
    this.pendingLen = len;
    this.lastDrop = Drop.None;
    return b;
  }

  /** Sends the packet started by {@link begin}. */
  commit(): void {
    this.sw.commit(this.pendingLen);
  }

  /** Whether a packet toward `dst` could be queued now (its port is under high water). */
  writableTo(dst: number): boolean {
    const mac = this.neighbours.lookup(dst);
    return mac < 0 || this.sw.writableTo(mac);
  }

  /** The switch port id that `dst` is reached through, or -1. */
  portIdOf(dst: number): number {
    const mac = this.neighbours.lookup(dst);
    return mac < 0 ? -1 : this.sw.portIdOf(mac);
  }

  /** Broadcasts an ARP request for `ip`. */
  requestArp(ip: number): void {
    const len = ETH_HLEN + ARP_LEN;
    const b = this.sw.begin(BROADCAST_MAC, len);
    if (b === undefined) return;
    const o = this.sw.txOff;
    writeEthernet(b, o, BROADCAST_MAC, this.mac, EtherType.ARP);
    writeArp(b, o + ETH_HLEN, ArpOp.Request, this.mac, this.arpSourceIp, 0, ip);
    // Pad to the 60-byte Ethernet minimum like a real NIC, so strict peers accept it.
    b.fill(0, o + len, o + 60);
    this.sw.commit(60);
  }
}
