/**
 * The gateway host's protocol stack, assembled: neighbour cache, IPv4 output (and the fragmenter
 * UDP/ICMP emit through), ARP, ICMP, UDP, IPv4 reassembly, the PMTU guard, the TCP endpoint, and
 * the gateway port that demultiplexes frames into them. The stack owns no policy: what happens to
 * a SYN for an unknown flow (`tcp.onSyn`) and to UDP nobody bound (`udp.fallback`) is installed by
 * the forwarders.
 * @module
 */
import type { ResolvedOptions } from '../options.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Switch } from '../switch/switch.js';
import { broadcastOf } from '../wire/address.js';
import { Drop } from '../wire/drop.js';
import { ArpResponder } from './arp.js';
import { Gateway } from './gateway.js';
import { IcmpLayer } from './icmp.js';
import { Ipv4Output } from './ip-output.js';
import { Ipv4Fragmenter } from './ipv4-fragmenter.js';
import { PmtuGuard } from './ipv4-pmtu.js';
import { Ipv4Reassembler } from './ipv4-reassembly.js';
import { Neighbours } from './neighbours.js';
import { TcpEndpoint } from './tcp/endpoint.js';
import { UdpLayer } from './udp.js';

/** The gateway's layers, attached to a switch as its local port. */
export class GatewayStack {
  readonly neighbours: Neighbours;
  readonly ipOut: Ipv4Output;
  /** Cuts the gateway's oversized UDP/ICMP packets to the destination's MTU. */
  readonly fragmenter: Ipv4Fragmenter;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  /** Reassembles guests' IPv4 fragments (bounded, 30 s timeout). */
  readonly reassembler: Ipv4Reassembler;
  /** Answers DF datagrams too big for the host path with fragmentation-needed. */
  readonly pmtu: PmtuGuard;
  readonly arp: ArpResponder;
  readonly gateway: Gateway;
  /** The TCP endpoint: impersonates every remote address the guests talk to. */
  readonly tcp: TcpEndpoint;

  constructor(sw: Switch, o: ResolvedOptions, runtime: Runtime) {
    this.neighbours = new Neighbours(runtime.clock);
    this.ipOut = new Ipv4Output(sw, this.neighbours, o.gatewayMac, o.gatewayIp, o.mtu);
    const owns = (ip: number): boolean => this.owns(ip);
    // UDP and ICMP emit through the fragmenter: a large NAT reply or echo reply is cut to the
    // destination's MTU (TCP stays on ipOut: its segments are sized by the MSS).
    this.fragmenter = new Ipv4Fragmenter({ output: this.ipOut, switch: sw, routerIp: o.gatewayIp });
    this.icmp = new IcmpLayer(this.fragmenter, owns);
    this.udp = new UdpLayer(this.fragmenter);
    this.reassembler = new Ipv4Reassembler({
      runtime,
      output: this.ipOut,
      verifyChecksums: o.verifyChecksums,
      isBroadcast: (ip) => ip === 0xffffffff || ip === broadcastOf(o.subnet),
      // The complete datagram takes the gateway's normal path.
      deliver: (info) => void this.gateway.deliver(info.buf, info.off, info.len),
    });
    this.pmtu = new PmtuGuard(this.icmp, o.egressMtu !== undefined ? { clampMtu: o.egressMtu } : {});
    this.arp = new ArpResponder(sw, this.neighbours, o.gatewayMac, owns, (ip) => this.gateway.isGuestAddress(ip));
    this.tcp = new TcpEndpoint({ output: this.ipOut, runtime });
    this.gateway = new Gateway(
      { subnet: o.subnet, gatewayIp: o.gatewayIp, hostIp: o.hostIp },
      this.neighbours,
      {
        arp: this.arp,
        icmp: this.icmp,
        udp: this.udp,
        tcp: (info) => {
          const d = this.tcp.input(info);
          if (d !== Drop.None) this.gateway.counters.drop(d);
        },
        fragment: (info) => {
          const d = this.reassembler.input(info);
          if (d !== Drop.None) this.gateway.counters.drop(d);
        },
      },
      o.verifyChecksums,
    );
    sw.attachLocal(this.gateway, o.gatewayMac);
    sw.onPortDrain = (portId) => this.tcp.onPortDrain(portId);
    this.gatewayIp = o.gatewayIp;
    this.hostIp = o.hostIp;
  }

  private readonly gatewayIp: number;
  private readonly hostIp: number;

  /** Whether the gateway owns `ip` (its address or the host-loopback alias). */
  owns(ip: number): boolean {
    return ip === this.gatewayIp || (this.hostIp >= 0 && ip === this.hostIp);
  }

  /** Frees everything the stack holds for a guest address whose NIC went away. */
  forgetGuest(ip: number): void {
    this.tcp.abortGuest(ip);
    this.neighbours.forget(ip);
  }

  /** Stops timers and connections. */
  close(): void {
    this.reassembler.close();
    this.tcp.close();
  }
}
