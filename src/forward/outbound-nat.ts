/**
 * Guest-initiated traffic to the outside, as ordinary host socket calls: the egress policy, the
 * address map (host-loopback alias → 127.0.0.1), connect-first TCP and the UDP NAT. Installs
 * itself as the stack's policy for SYNs to unknown flows and for UDP nobody on the gateway bound.
 * @module
 */
import type { ResolvedOptions } from '../options.js';
import type { Runtime } from '../runtime/runtime.js';
import type { GatewayStack } from '../stack/gateway-stack.js';
import type { SynRequest } from '../stack/tcp/syn-request.js';
import { Drop } from '../wire/drop.js';
import { IcmpUnreach } from '../wire/icmpv4.js';
import { IpProto, writeIpv4 } from '../wire/ipv4.js';
import type { Logger } from '../logger.js';
import { AddressMap } from './address-map.js';
import { FlowEventHub, type FlowCloseEvent, type FlowOpenEvent } from './flow-events.js';
import type { GuestCounts } from './guest-counts.js';
import { IcmpEchoForwarder } from './icmp-echo.js';
import { icmpEchoSender } from './icmp-echo-io.js';
import { EgressPolicy } from './egress-policy.js';
import { TcpOutbound } from './tcp-outbound.js';
import { UdpNat } from './udp-nat.js';

/** What the NAT asks of its network: who listens for flow events, and where they go. */
export interface OutboundNatHooks {
  readonly logger: Logger;
  /** Whether anybody listens for `flow-open`/`flow-close` (checked per flow). */
  flowListening(): boolean;
  flowOpen(e: FlowOpenEvent): void;
  flowClose(e: FlowCloseEvent): void;
  /** The NIC a guest address is reached through. */
  nicOf(guestIp: number): number | undefined;
}

/** The outbound NAT of one network. */
export class OutboundNat {
  /** Egress policy for guest-initiated traffic (`--allow`/`--deny`). */
  readonly egress: EgressPolicy;
  /** Guest destination → host destination. */
  readonly addressMap: AddressMap;
  readonly udpNat: UdpNat;
  /** Connect-first host sockets for guest TCP. */
  readonly tcpOut: TcpOutbound;
  /** Guests' pings to other addresses, through host ping sockets; absent when turned off. */
  readonly icmpEcho: IcmpEchoForwarder | undefined;
  /** Reports flows as `flow-open`/`flow-close` (nothing is built without a listener). */
  readonly flowEvents: FlowEventHub;

  constructor(
    private readonly stack: GatewayStack,
    o: ResolvedOptions,
    runtime: Runtime,
    private readonly hooks: OutboundNatHooks,
  ) {
    this.egress = new EgressPolicy(o.allow, o.deny);
    this.addressMap = new AddressMap(o.hostIp);
    this.flowEvents = new FlowEventHub({
      clock: runtime.clock,
      listening: () => hooks.flowListening(),
      onOpen: (e) => hooks.flowOpen(e),
      onClose: (e) => hooks.flowClose(e),
      nicOf: (ip) => hooks.nicOf(ip),
    });
    this.udpNat = new UdpNat(runtime, stack.udp, stack.icmp, this.egress, this.addressMap, o.maxUdpFlows !== undefined ? { maxFlows: o.maxUdpFlows } : {});
    this.udpNat.flowEvents = this.flowEvents;
    this.tcpOut = new TcpOutbound({
      endpoint: stack.tcp,
      runtime,
      hostLoopbackIp: o.hostIp,
      flowEvents: this.flowEvents,
      ...(o.tcpIdleTimeoutMs > 0 ? { idleTimeoutMs: o.tcpIdleTimeoutMs } : {}),
      ...(o.maxTcpFlows !== undefined ? { maxFlows: o.maxTcpFlows } : {}),
      ...(o.newFlowsPerSecond !== undefined ? { newFlowsPerSecond: o.newFlowsPerSecond } : {}),
      egressPolicy: (ip) => this.egress.permits(ip, 'tcp'),
      sendIcmpUnreachable: (req, reason) => this.unreachableForSyn(req, reason === 'net-unreachable' ? IcmpUnreach.Net : IcmpUnreach.Host),
    });
    if (o.icmpForwarding !== false) {
      this.icmpEcho = new IcmpEchoForwarder({
        runtime,
        sender: icmpEchoSender(stack.fragmenter, stack.icmp),
        policy: this.egress,
        addressMap: this.addressMap,
        isLocal: (ip) => stack.gateway.isGuestAddress(ip),
        logger: hooks.logger,
        flowEvents: this.flowEvents,
      });
      stack.icmp.forwardEcho = this.icmpEcho.input;
    }
    const gatewayOnly = (ip: number): boolean => stack.owns(ip) && ip !== o.hostIp;
    stack.tcp.onSyn = (req) => {
      // The gateway's own addresses and other guests are not NATed: nothing listens there → RST
      // (vpnkit stays silent, protocols.md §4.8; a refusal is the honest answer and fails fast).
      if (gatewayOnly(req.dstIp) || stack.gateway.isGuestAddress(req.dstIp)) req.refuse();
      else this.tcpOut.handleSyn(req);
    };
    stack.udp.fallback = (info) => {
      // Nothing listens on this gateway port: say so, like a host would (RFC 1122 §4.1.3.1).
      if (gatewayOnly(info.dstIp)) stack.icmp.sendUnreachable(info.dstIp, info.buf, info.l3, info.l4 + 8 - info.l3, IcmpUnreach.Port, 0, info.srcMac);
      else if (stack.gateway.isGuestAddress(info.dstIp)) stack.gateway.counters.drop(Drop.NotForUs);
      else if (!stack.pmtu.refuse(info, this.addressMap.toHost(info.dstIp))) this.udpNat.input(info);
    };
  }

  /**
   * Open flows per guest address, by protocol: TCP flows (pending connects included), UDP NAT
   * flows, ICMP echo flows. Walks the flow tables: for stats, never the packet path.
   */
  flowsByGuest(): { tcp: GuestCounts; udp: GuestCounts; icmp: GuestCounts } {
    return { tcp: this.tcpOut.flowsByGuest(), udp: this.udpNat.flowsByGuest(), icmp: this.icmpEcho?.flowsByGuest() ?? new Map() };
  }

  /** The NIC id a guest address is reached through now, if any (the `nicOf` hook). */
  nicOf(guestIp: number): number | undefined {
    return this.hooks.nicOf(guestIp);
  }

  /** Frees every flow of a guest address (its NIC went away). */
  closeForGuest(ip: number): void {
    this.udpNat.closeForGuest(ip);
    this.tcpOut.closeForGuest(ip);
    this.icmpEcho?.closeForGuest(ip);
  }

  /** Closes every flow (before the TCP endpoint closes, so flows report `shutdown`). */
  close(): void {
    this.udpNat.close();
    this.tcpOut.close();
    this.icmpEcho?.close();
  }

  /** ICMP destination-unreachable for a guest SYN whose host connect failed; the quote (IP header + 8 bytes, RFC 792) is rebuilt from the SYN. */
  private unreachableForSyn(req: SynRequest, code: number): void {
    const q = Buffer.alloc(28);
    writeIpv4(q, 0, 40, 0, 64, IpProto.TCP, req.srcIp, req.dstIp);
    q.writeUInt16BE(req.srcPort, 20);
    q.writeUInt16BE(req.dstPort, 22);
    q.writeUInt32BE(req.params.irs, 24);
    this.stack.icmp.sendUnreachable(req.dstIp, q, 0, 28, code);
  }
}
