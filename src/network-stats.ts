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
import type { NicStats } from './nic.js';
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
