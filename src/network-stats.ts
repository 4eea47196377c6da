/**
 * The counters snapshot of a network (`stats()`, `GET /stats`): per NIC, the gateway, and every
 * layer and service, as plain JSON-safe objects (copies, not live counters).
 * @module
 */
import type { OutboundNat } from './forward/outbound-nat.js';
import type { EgressStats } from './forward/egress-policy.js';
import type { IcmpEchoStats } from './forward/icmp-echo.js';
import type { TcpOutboundStats } from './forward/tcp-outbound.js';
import type { UdpNatStats } from './forward/udp-nat.js';
import type { PortForwarder } from './forward/port-forwarder.js';
import type { GuestCounts } from './forward/guest-counts.js';
import type { NicFlowCounts, NicStats } from './nic.js';
import type { GatewayServices } from './services/gateway-services.js';
import type { DhcpStats } from './services/dhcp/index.js';
import type { DnsServiceStats } from './services/dns/index.js';
import type { GatewayStack } from './stack/gateway-stack.js';
import type { Ipv4FragmenterStats } from './stack/ipv4-fragmenter.js';
import type { Ipv4ReassemblyStats } from './stack/ipv4-reassembly.js';
import type { TcpStats } from './stack/tcp/stats.js';
import type { Switch } from './switch/switch.js';
import { dropCountsToObject } from './wire/drop.js';

/** A snapshot of the network's counters. */
export interface NetworkStats {
  nics: NicStats[];
  gateway: { drops: Record<string, number>; arpReplies: number; echoReplies: number; icmpErrors: number; echoDropped: number };
  macTableSize: number;
  tcp: { endpoint: TcpStats; outbound: TcpOutboundStats };
  udp: UdpNatStats;
  ipv4: { reassembly: Ipv4ReassemblyStats; fragmentation: Ipv4FragmenterStats; fragNeededSent: number };
  dns: DnsServiceStats;
  dhcp: DhcpStats;
  egress: EgressStats;
  /** Guests' pings forwarded through host ping sockets (absent when turned off). */
  icmpEcho?: IcmpEchoStats & { unavailableReason?: string };
}

/**
 * Open flows per NIC id: every forwarder's flows per guest address (outbound NAT, exposed ports),
 * each address mapped to its NIC once with `nicOf`. Addresses that map to no NIC are left out.
 * O(flows) per call; nothing is kept per packet or per flow.
 */
export function flowsByNic(nat: OutboundNat, ports: PortForwarder, nicOf: (guestIp: number) => number | undefined): Map<number, NicFlowCounts> {
  const { tcp, udp, icmp } = nat.flowsByGuest();
  ports.flowsByGuest(tcp, udp);
  const out = new Map<number, NicFlowCounts>();
  const nicIds = new Map<number, number | undefined>();
  const add = (counts: GuestCounts, field: keyof NicFlowCounts): void => {
    for (const [ip, n] of counts) {
      let id: number | undefined;
      if (nicIds.has(ip)) id = nicIds.get(ip);
      else nicIds.set(ip, (id = nicOf(ip)));
      if (id === undefined) continue;
      let c = out.get(id);
      if (c === undefined) out.set(id, (c = { tcpFlows: 0, udpFlows: 0, icmpFlows: 0 }));
      c[field] += n;
    }
  };
  add(tcp, 'tcpFlows');
  add(udp, 'udpFlows');
  add(icmp, 'icmpFlows');
  return out;
}

/** Collects a snapshot from the network's parts. */
export function collectStats(nics: NicStats[], sw: Switch, stack: GatewayStack, nat: OutboundNat, services: GatewayServices): NetworkStats {
  const e = nat.egress.stats;
  return {
    nics,
    gateway: {
      drops: dropCountsToObject(stack.gateway.counters.drops),
      arpReplies: stack.arp.replies,
      echoReplies: stack.icmp.stats.echoReplies,
      icmpErrors: stack.icmp.stats.errorsSent,
      echoDropped: stack.icmp.stats.echoDropped,
    },
    macTableSize: sw.macs.size,
    tcp: { endpoint: stack.tcp.stats(), outbound: nat.tcpOut.stats() },
    udp: { ...nat.udpNat.stats },
    ipv4: { reassembly: { ...stack.reassembler.stats }, fragmentation: { ...stack.fragmenter.stats }, fragNeededSent: stack.pmtu.fragNeededSent },
    dns: services.dns.stats(),
    dhcp: { ...services.dhcp.server.stats },
    egress: { ...e, deniedByProtocol: { ...e.deniedByProtocol } },
    ...(nat.icmpEcho !== undefined
      ? { icmpEcho: { ...nat.icmpEcho.stats, ...(nat.icmpEcho.unavailableReason !== undefined ? { unavailableReason: nat.icmpEcho.unavailableReason } : {}) } }
      : {}),
  };
}
