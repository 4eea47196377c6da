/**
 * The gateway host on the bridge: the switch's local port. It parses each frame once
 * ({@link parseFrame}), answers ARP for its addresses, learns guests' addresses, and hands IPv4
 * to ICMP, UDP (services and NAT) and TCP. Frames are borrowed; nothing here keeps them.
 * @module
 */
import { PortCounters, type SwitchPort } from '../switch/port.js';
import { MAX_FRAME } from '../switch/switch.js';
import { cidrContains, type Ipv4Cidr } from '../wire/address.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { EtherType } from '../wire/ethernet.js';
import { FrameInfo, parseFrame } from '../wire/frame-info.js';
import { IpProto } from '../wire/ipv4.js';
import type { ArpResponder } from './arp.js';
import type { IcmpLayer } from './icmp.js';
import type { Neighbours } from './neighbours.js';
import type { UdpLayer } from './udp.js';

/** The addresses the gateway owns. */
export interface GatewayAddresses {
  subnet: Ipv4Cidr;
  gatewayIp: number;
  /** The host-loopback alias, or -1 when disabled. */
  hostIp: number;
}

/** The layers the gateway dispatches to. */
export interface GatewayLayers {
  arp: ArpResponder;
  icmp: IcmpLayer;
  udp: UdpLayer;
  /** Every TCP segment from a guest, to any address. */
  tcp: (info: FrameInfo) => void;
  /** IPv4 fragments (reassembly); unset = dropped and counted. */
  fragment?: (info: FrameInfo) => void;
}

/** A frame that is IPv4/UDP to port 67 with a zero header checksum (a minimal DHCP client). */
function isUncheckedDhcpToServer(b: Uint8Array, off: number, len: number): boolean {
  const l3 = off + 14;
  if (len < 14 + 28 || b[off + 12] !== 0x08 || b[off + 13] !== 0x00) return false;
  const l4 = l3 + (b[l3]! & 15) * 4;
  return b[l3 + 9] === IpProto.UDP && b[l3 + 10] === 0 && b[l3 + 11] === 0 && l4 + 8 <= off + len && b[l4 + 2] === 0 && b[l4 + 3] === 67;
}

/** The gateway's switch port. */
export class Gateway implements SwitchPort {
  id = 0;
  readonly name = 'gateway';
  readonly maxFrame = MAX_FRAME;
  readonly counters = new PortCounters();
  onDrain: (() => void) | undefined;
  readonly writable = true;
  readonly txBuf = new Uint8Array(0);
  private readonly info = new FrameInfo();
  private readonly broadcast: number;

  constructor(
    private readonly addr: GatewayAddresses,
    private readonly neighbours: Neighbours,
    private readonly layers: GatewayLayers,
    private readonly verifyChecksums = true,
  ) {
    const c = addr.subnet;
    this.broadcast = (c.network | (c.prefix === 0 ? 0xffffffff : ~(0xffffffff << (32 - c.prefix)))) >>> 0;
  }

  /** Whether the gateway owns `ip` (answers ARP and echo for it). */
  owns(ip: number): boolean {
    return ip === this.addr.gatewayIp || (ip === this.addr.hostIp && this.addr.hostIp >= 0);
  }

  /** Whether `ip` is a guest address we may learn: in the subnet, not ours, not network/broadcast. */
  isGuestAddress(ip: number): boolean {
    return cidrContains(this.addr.subnet, ip) && !this.owns(ip) && ip !== this.addr.subnet.network && ip !== this.broadcast;
  }

  /** The gateway never transmits to itself through the switch. */
  reserve(): number {
    return -1;
  }
  commit(): void {}

  /** A frame for the gateway (unicast to its MAC, or flooded). */
  deliver(b: Uint8Array, off: number, len: number): DropCode {
    const info = this.info;
    let r = parseFrame(b, off, len, info, this.verifyChecksums);
    // The Go vmnet client's DHCPDISCOVER carries an IPv4 header checksum of 0 (protocols.md §1.7);
    // accept exactly that case rather than leave such a client without an address.
    if (r === Drop.BadChecksum && isUncheckedDhcpToServer(b, off, len)) r = parseFrame(b, off, len, info, false);
    if (r !== Drop.None) return this.dropped(r);
    if (info.etherType === EtherType.ARP) return this.dropped(this.layers.arp.input(info));
    if (info.srcIp !== 0 && this.isGuestAddress(info.srcIp)) this.neighbours.learn(info.srcIp, info.srcMac);
    if (info.fragment) {
      if (this.layers.fragment !== undefined) this.layers.fragment(info);
      else r = Drop.Fragment;
      return this.dropped(r);
    }
    switch (info.protocol) {
      case IpProto.UDP:
        r = this.layers.udp.input(info);
        break;
      case IpProto.TCP:
        if (this.isBroadcastish(info.dstIp)) r = Drop.NotForUs;
        else this.layers.tcp(info);
        break;
      case IpProto.ICMP:
        r = this.isBroadcastish(info.dstIp) ? Drop.NotForUs : this.layers.icmp.input(info);
        break;
      default:
        r = Drop.Unsupported;
    }
    return this.dropped(r);
  }

  private isBroadcastish(ip: number): boolean {
    return ip === 0xffffffff || ip === this.broadcast || ip >>> 28 === 14;
  }

  private dropped(r: DropCode): DropCode {
    // Frames flooded to us that are not ours (IPv6 neighbour discovery, other guests' broadcasts)
    // are normal; count them so /stats shows them, but report success to the switch.
    if (r !== Drop.None) this.counters.drop(r);
    return Drop.None;
  }
}
