/**
 * A VirtualNetwork: one L2 bridge with a user-space gateway on it. Reading the constructor is
 * reading the architecture: options → switch → gateway stack (neighbours, IPv4 output, ARP, ICMP,
 * UDP, TCP) → services (DHCP, DNS) → forwarders (outbound NAT, exposed ports) → transports.
 * Packets flow one way: transport → switch → gateway → services/forward.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Duplex } from 'node:stream';
import { err, errAsync, ok, okAsync, type ResultAsync, type Result } from 'neverthrow';
import { vnetError, type VnetError } from './errors.js';
import type { VirtualNetworkEvents } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { Nic, type NicStats, type NicTransport } from './nic.js';
import { resolveOptions, type NetworkOptions, type OptionsError, type ResolvedOptions } from './options.js';
import { systemRuntime, type Runtime } from './runtime/runtime.js';
import { ArpResponder } from './stack/arp.js';
import { Gateway } from './stack/gateway.js';
import { IcmpLayer } from './stack/icmp.js';
import { Ipv4Output } from './stack/ip-output.js';
import { Neighbours } from './stack/neighbours.js';
import { Ipv4Fragmenter, type Ipv4FragmenterStats } from './stack/ipv4-fragmenter.js';
import { Ipv4Reassembler, type Ipv4ReassemblyStats } from './stack/ipv4-reassembly.js';
import type { TcpStats } from './stack/tcp/stats.js';
import type { TcpOutboundStats } from './forward/tcp-outbound.js';
import type { UdpNatStats } from './forward/udp-nat.js';
import type { EgressStats } from './forward/egress-policy.js';
import type { DnsServerStats, UpstreamStats } from './services/dns/index.js';
import type { DhcpStats } from './services/dhcp/index.js';
import { PmtuGuard } from './stack/ipv4-pmtu.js';
import { UdpLayer } from './stack/udp.js';
import { Switch } from './switch/switch.js';
import { qemuFraming, u16leFraming, vmnetFraming, type Framing } from './transports/framing.js';
import { vmnetServerHandshake } from './transports/vmnet/handshake.js';
import { macFromUuid } from './transports/vmnet/mac-from-uuid.js';
import { StreamPort, type StreamPortCloseReason } from './transports/stream-port.js';
import { listenUnix, type ListenError, type UnixListener } from './transports/unix-listener.js';
import { broadcastOf, formatIpv4, formatMac, macToBytes, parseIpv4 } from './wire/address.js';
import { u48be } from './wire/bytes.js';
import { Drop, dropCountsToObject } from './wire/drop.js';
import { ETH_HLEN } from './wire/ethernet.js';
import { IcmpUnreach } from './wire/icmpv4.js';
import { IpProto, writeIpv4 } from './wire/ipv4.js';
import { ConnectionDuplex } from './stack/tcp/duplex.js';
import { TcpEndpoint } from './stack/tcp/endpoint.js';
import type { SynRequest } from './stack/tcp/syn-request.js';
import { TcpOutbound } from './forward/tcp-outbound.js';
import { AddressMap } from './forward/address-map.js';
import { createDnsService, type DnsService } from './services/dns/index.js';
import { createDhcpService, type DhcpService, type DhcpServiceError } from './services/dhcp/index.js';
import { EgressPolicy } from './forward/egress-policy.js';
import { UdpNat } from './forward/udp-nat.js';
import { PcapWriter } from './wire/pcap.js';

const macFromBytes = (b: Uint8Array): number => u48be(b, 0);

/** Options of {@link VirtualNetwork.attach}. */
export interface AttachOptions {
  framing: 'qemu' | 'stdio';
  /** Label in logs and stats. */
  name?: string;
}

/** Errors of {@link VirtualNetwork.attach}. */
export type AttachError = VnetError<'network-closed'>;

/** A snapshot of the network's counters (`GET /stats`). */
export interface NetworkStats {
  nics: NicStats[];
  gateway: { drops: Record<string, number>; arpReplies: number; echoReplies: number; icmpErrors: number; echoDropped: number };
  macTableSize: number;
  tcp: { endpoint: TcpStats; outbound: TcpOutboundStats };
  udp: UdpNatStats;
  ipv4: { reassembly: Ipv4ReassemblyStats; fragmentation: Ipv4FragmenterStats; fragNeededSent: number };
  dns: { server: DnsServerStats; upstream: UpstreamStats };
  dhcp: DhcpStats;
  egress: EgressStats;
}

/** One L2 bridge and its gateway. */
export class VirtualNetwork extends EventEmitter<VirtualNetworkEvents> {
  readonly options: ResolvedOptions;
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** The bridge (advanced use: attach custom ports). */
  readonly switch: Switch;
  readonly neighbours: Neighbours;
  readonly gateway: Gateway;
  /** @internal the gateway's layers, for services and forwarders */
  readonly ipOut: Ipv4Output;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  private readonly arp: ArpResponder;
  /** Cuts the gateway's oversized UDP/ICMP packets to the destination's MTU. */
  readonly fragmenter: Ipv4Fragmenter;
  /** Reassembles guests' IPv4 fragments (bounded, 30 s timeout). */
  readonly reassembler: Ipv4Reassembler;
  /** Answers DF datagrams too big for the host path with fragmentation-needed. */
  readonly pmtu: PmtuGuard;
  /** Egress policy for guest-initiated traffic (`--allow`/`--deny`). */
  readonly egress: EgressPolicy;
  /** Guest destination → host destination (host-loopback alias → 127.0.0.1). */
  readonly addressMap: AddressMap;
  /** Outbound UDP NAT. */
  readonly udpNat: UdpNat;
  /** DNS on the gateway (UDP and TCP 53): local names, then the upstreams. */
  readonly dns: DnsService;
  /** DHCP on the gateway: the lease pool, the server on UDP 67, the leases file. */
  private dhcpService: DhcpService | undefined;
  /** The gateway's TCP endpoint (impersonates every remote the guests talk to). */
  readonly tcp: TcpEndpoint;
  /** Outbound TCP NAT: connect-first host sockets. */
  readonly tcpOut: TcpOutbound;
  private readonly nics = new Map<number, Nic>();
  private readonly unixListeners = new Set<UnixListener>();
  private pcap: PcapWriter | undefined;
  private closed = false;
  private nextNicSeq = 1;

  private constructor(options: ResolvedOptions, runtime: Runtime, logger: Logger, dns: DnsService) {
    super();
    this.options = options;
    this.runtime = runtime;
    this.logger = logger;
    const o = options;
    this.switch = new Switch({ clock: runtime.clock });
    this.neighbours = new Neighbours(runtime.clock);
    this.ipOut = new Ipv4Output(this.switch, this.neighbours, o.gatewayMac, o.gatewayIp, o.mtu);
    const owns = (ip: number): boolean => ip === o.gatewayIp || (o.hostIp >= 0 && ip === o.hostIp);
    this.gatewayOwns = owns;
    // UDP and ICMP emit through the fragmenter: a large NAT reply or echo reply is cut to the
    // destination's MTU (TCP stays on ipOut: its segments are sized by the MSS).
    this.fragmenter = new Ipv4Fragmenter({ output: this.ipOut, switch: this.switch, routerIp: o.gatewayIp });
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
    this.arp = new ArpResponder(this.switch, this.neighbours, o.gatewayMac, owns, (ip) => this.gateway.isGuestAddress(ip));
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
    this.switch.attachLocal(this.gateway, o.gatewayMac);

    this.egress = new EgressPolicy(o.allow, o.deny);
    this.addressMap = new AddressMap(o.hostIp);
    this.udpNat = new UdpNat(runtime, this.udp, this.icmp, this.egress, this.addressMap);
    this.dns = dns;
    dns.server.attachUdp(this.udp, o.gatewayIp);

    this.tcp = new TcpEndpoint({ output: this.ipOut, runtime });
    this.switch.onPortDrain = (portId) => this.tcp.onPortDrain(portId);
    this.tcpOut = new TcpOutbound({
      endpoint: this.tcp,
      runtime,
      hostLoopbackIp: o.hostIp,
      egressPolicy: (ip) => this.egress.permits(ip, 'tcp'),
      sendIcmpUnreachable: (req, reason) => this.icmpForSyn(req, reason === 'net-unreachable' ? IcmpUnreach.Net : IcmpUnreach.Host),
    });
    this.tcp.onSyn = (req) => {
      // The gateway's own addresses and other guests are not NATed: nothing listens there → RST
      // (vpnkit stays silent, §4.8; a refusal is the honest answer and fails fast).
      if ((owns(req.dstIp) && req.dstIp !== o.hostIp) || this.gateway.isGuestAddress(req.dstIp)) req.refuse();
      else this.tcpOut.handleSyn(req);
    };
    // DNS over TCP (RFC 7766) on the gateway.
    this.tcp.listen(o.gatewayIp, 53, (c) => dns.server.handleStream(new ConnectionDuplex(c)));
    this.onGuestGone = (ip) => {
      this.tcpOut.closeForGuest(ip);
      this.tcp.abortGuest(ip);
    };
    this.udp.fallback = (info) => {
      // Nothing listens on this gateway port: say so, like a host would (RFC 1122 §4.1.3.1).
      if (owns(info.dstIp) && info.dstIp !== o.hostIp)
        this.icmp.sendUnreachable(info.dstIp, info.buf, info.l3, info.l4 + 8 - info.l3, IcmpUnreach.Port, 0, info.srcMac);
      else if (this.gateway.isGuestAddress(info.dstIp)) this.gateway.counters.drop(Drop.NotForUs);
      else if (!this.pmtu.refuse(info, this.addressMap.toHost(info.dstIp))) this.udpNat.input(info);
    };
  }

  private readonly gatewayOwns: (ip: number) => boolean;

  /** Creates a network from options (see {@link NetworkOptions}); nothing listens until asked. */
  static create(options: NetworkOptions = {}): Result<VirtualNetwork, OptionsError | VnetError<'pcap-open-failed'>> {
    const r = resolveOptions(options);
    if (r.isErr()) return err(r.error);
    const o = r.value;
    const runtime = options.runtime ?? systemRuntime();
    const logger = options.logger ?? silentLogger;
    const dns = createDnsService(runtime, {
      gatewayIp: o.gatewayIp,
      hostAliasIp: o.hostIp,
      ...(o.hostNames !== undefined ? { hostNames: o.hostNames } : {}),
      ...(o.gatewayNames !== undefined ? { gatewayNames: o.gatewayNames } : {}),
      ...(o.domain !== undefined ? { domain: o.domain } : {}),
      ...(o.dnsUpstreams !== undefined ? { upstreams: o.dnsUpstreams } : {}),
      ...(o.resolvConfPath !== undefined ? { resolvConfPath: o.resolvConfPath } : {}),
      // The gateway does not fragment its own answers: keep UDP answers inside one frame.
      server: { maxUdpResponse: Math.min(1232, o.mtu - 28) },
    });
    if (dns.isErr()) return err(vnetError('invalid-option', `dns: ${dns.error.message}`, { option: 'dns', cause: dns.error }));
    for (const w of dns.value.warnings) logger.warn(`dns: ${w}`);
    const net = new VirtualNetwork(o, runtime, logger, dns.value);
    const dhcp = net.startDhcp();
    if (dhcp.isErr()) {
      void net.close();
      return err(vnetError('invalid-option', `dhcp: ${dhcp.error.message}`, { option: 'dhcp', cause: dhcp.error }));
    }
    if (r.value.pcap !== undefined) {
      const c = net.capture(r.value.pcap);
      if (c.isErr()) return err(c.error);
    }
    return ok(net);
  }

  /** Listens on a Unix socket for QEMU `-netdev stream` clients (u32 BE framing, protocols.md §6). */
  listenQemu(path: string): ResultAsync<UnixListener, ListenError | AttachError> {
    return this.listen(path, (s) => {
      const r = this.attachStream(s, qemuFraming, 'qemu', `qemu:${path}`);
      if (r.isErr()) s.destroy();
    });
  }

  /** Attaches any duplex byte stream as a NIC with the given framing. */
  attach(stream: Duplex, opts: AttachOptions): Result<Nic, AttachError> {
    const framing = opts.framing === 'qemu' ? qemuFraming : u16leFraming;
    return this.attachStream(stream, framing, opts.framing, opts.name ?? `${opts.framing}:stream`);
  }

  /**
   * Attaches a framed stream. `initial` holds bytes that arrived with a handshake; `mac`/`uuid`
   * come from vmnet. @internal (used by transports)
   */
  attachStream(
    stream: Duplex,
    framing: Framing,
    transport: NicTransport,
    label: string,
    extra: { initial?: Uint8Array; mac?: number; uuid?: string; maxFrame?: number } = {},
  ): Result<Nic, AttachError> {
    if (this.closed) return err(vnetError('network-closed', 'the network is closed'));
    const maxFrame = extra.maxFrame ?? this.options.mtu + ETH_HLEN;
    const port = new StreamPort(stream, {
      name: `${label}#${this.nextNicSeq++}`,
      framing,
      maxFrame,
      ...(extra.initial !== undefined ? { initial: extra.initial } : {}),
    });
    const nic = new Nic(port, transport, extra.uuid, (n, reason) => this.detachNic(n, reason));
    if (extra.mac !== undefined) nic.mac = extra.mac;
    this.switch.attach(port);
    this.nics.set(port.id, nic);
    port.onFrame = (p, b, off, len) => this.switch.input(p, b, off, len);
    port.onClose = (reason: StreamPortCloseReason) => {
      if (reason.kind === 'framing' || reason.kind === 'error') {
        this.logger.warn(reason.message);
        this.emit('error', vnetError('nic-failed', reason.message, { cause: reason }));
      }
      this.detachNic(nic, reason.message);
    };
    port.start();
    this.logger.info(`NIC ${port.name} attached (${transport}${extra.uuid ? `, uuid ${extra.uuid}` : ''})`);
    this.emit('nic-attached', {
      id: port.id,
      name: port.name,
      transport,
      ...(extra.mac !== undefined ? { mac: formatMac(extra.mac) } : {}),
      ...(extra.uuid !== undefined ? { uuid: extra.uuid } : {}),
    });
    return ok(nic);
  }

  /**
   * Listens for HyperKit virtio-vpnkit clients (vmnet protocol version 22, protocols.md §1): the
   * handshake assigns each UUID a stable MAC and (through DHCP's pool) its IP, then frames flow
   * with u16 LE framing. A failed handshake ends only that connection, with a logged reason.
   */
  listenHyperkit(path: string): ResultAsync<UnixListener, ListenError | AttachError> {
    return this.listen(path, (s) => this.acceptVmnet(s, `vmnet:${path}`));
  }

  /** Runs the vmnet handshake on any duplex (a Unix socket, a vsock stream) and attaches the NIC. */
  acceptVmnet(stream: Duplex, label: string): ResultAsync<Nic, VnetError> {
    const mtu = this.options.mtu;
    return vmnetServerHandshake(stream, {
      scheduler: this.runtime.scheduler,
      rng: this.runtime.rng,
      log: (line) => this.logger.debug(`${label}: ${line}`),
      assign: (req) => {
        const mac = this.uniqueMacFor(req.uuid);
        const bound = this.vmnetBinder(req.uuid, mac, req.preferredIp);
        if (bound.isErr()) return err({ reason: bound.error.message });
        return ok({ mac: macToBytes(mac), mtu });
      },
    })
      .mapErr((e): VnetError => {
        this.logger.warn(`${label}: vmnet handshake failed: ${e.message}`);
        this.emit('error', vnetError('handshake-failed', `${label}: ${e.message}`, { cause: e }));
        return e;
      })
      .andThen((session) => {
        session.stream.on('error', () => {});
        const r = this.attachStream(session.stream, vmnetFraming, 'vmnet', label, {
          initial: session.rest,
          mac: macFromBytes(session.mac),
          uuid: session.uuid,
          maxFrame: session.maxPacketSize,
        });
        if (r.isErr()) session.stream.destroy();
        return r;
      });
  }

  /** Binds a vmnet UUID to an address at handshake time; replaced by the DHCP pool. @internal */
  vmnetBinder: (uuid: string, mac: number, preferredIp: number | undefined) => Result<unknown, VnetError> = () => ok(undefined);

  /** The stable MAC for a UUID, bumped past any MAC already in use by another NIC. */
  private uniqueMacFor(uuid: string): number {
    let mac = macFromUuid(uuid);
    const taken = new Set(this.allNics().filter((n) => n.uuid !== uuid).map((n) => n.mac));
    while (taken.has(mac)) mac = 0x020000000000 + ((mac + 1) % 0x10000000000);
    return mac;
  }

  /** Exposes a guest port on the host. TODO(lead): wire src/forward/expose. */
  exposePort(spec: { guest: string; guestPort: number; hostIp: string; hostPort: number; protocol: 'tcp' | 'udp' }): ResultAsync<unknown, VnetError> {
    return errAsync(vnetError('unsupported', `expose ${spec.hostIp}:${spec.hostPort}: exposePort is not wired yet`));
  }

  /** Serves the HTTP control API. TODO(lead): wire src/control. */
  serveControl(path: string): ResultAsync<unknown, VnetError> {
    return errAsync(vnetError('unsupported', `--control ${path}: the control API is not wired yet`));
  }

  /** All attached NICs. */
  allNics(): Nic[] {
    return [...this.nics.values()];
  }

  /** Starts capturing every frame crossing the switch into a pcap file (replacing any capture). */
  capture(file: string): Result<void, VnetError<'pcap-open-failed'>> {
    const w = PcapWriter.open(file);
    if (w.isErr()) return err(w.error);
    void this.pcap?.close();
    this.pcap = w.value;
    this.switch.setCapture(w.value);
    return ok(undefined);
  }

  /** Stops capturing and flushes the file. */
  async stopCapture(): Promise<void> {
    const w = this.pcap;
    this.pcap = undefined;
    this.switch.setCapture(undefined);
    await w?.close();
  }

  /** Counters snapshot. */
  stats(): NetworkStats {
    return {
      nics: this.allNics().map((n) => n.stats(formatMac)),
      gateway: {
        drops: dropCountsToObject(this.gateway.counters.drops),
        arpReplies: this.arp.replies,
        echoReplies: this.icmp.stats.echoReplies,
        icmpErrors: this.icmp.stats.errorsSent,
        echoDropped: this.icmp.stats.echoDropped,
      },
      macTableSize: this.switch.macs.size,
      tcp: { endpoint: this.tcp.stats(), outbound: this.tcpOut.stats() },
      udp: { ...this.udpNat.stats },
      ipv4: { reassembly: { ...this.reassembler.stats }, fragmentation: { ...this.fragmenter.stats }, fragNeededSent: this.pmtu.fragNeededSent },
      dns: { server: this.dns.server.stats(), upstream: this.dns.upstream.stats() },
      dhcp: { ...this.dhcp.server.stats },
      egress: { ...this.egress.stats, deniedByProtocol: { ...this.egress.stats.deniedByProtocol } },
    };
  }

  /** Whether the gateway owns `ip` (gateway address or host-loopback alias). */
  owns(ip: number): boolean {
    return this.gatewayOwns(ip);
  }

  /** The gateway address as text. */
  get gatewayAddress(): string {
    return formatIpv4(this.options.gatewayIp);
  }

  /** Builds the DHCP service on this network's UDP layer and routes its events. */
  private startDhcp(): Result<DhcpService, DhcpServiceError> {
    const o = this.options;
    const r = createDhcpService({
      runtime: this.runtime,
      udp: this.udp,
      neighbours: this.neighbours,
      subnet: o.subnet,
      gatewayIp: o.gatewayIp,
      hostIp: o.hostIp,
      lowestIp: o.lowestIp,
      highestIp: o.highestIp,
      leaseTimeSec: o.leaseTimeSeconds,
      mtu: o.mtu,
      ...(o.domain !== undefined ? { domainName: o.domain } : {}),
      searchDomains: o.searchDomains,
      reservations: o.reservations,
      ...(o.leasesFile !== undefined ? { leasesFile: o.leasesFile } : {}),
      onLease: (e) => {
        // Guests are reachable by their DHCP hostname (option 12) through the gateway's DNS.
        if (e.hostname !== undefined) {
          const named = this.dns.records.setGuestName(e.hostname, parseIpv4(e.ip)!);
          if (named.isErr()) this.logger.debug(`dns: guest name ${e.hostname}: ${named.error.message}`);
        }
        this.emit('lease', { ip: e.ip, mac: e.mac, ...(e.uuid ? { uuid: e.uuid } : {}), ...(e.hostname ? { hostname: e.hostname } : {}), expiresAt: e.expiresAt });
      },
      onRelease: (e) => {
        this.dns.records.removeGuestIp(parseIpv4(e.ip)!);
        this.emit('release', { ip: e.ip, mac: e.mac });
      },
      onError: (e) => {
        this.logger.warn(`dhcp: ${e.message}`);
        this.emit('error', e);
      },
    });
    if (r.isErr()) return err(r.error);
    for (const sk of r.value.restored.skipped) this.logger.warn(`leases file: skipped ${JSON.stringify(sk)}`);
    this.dhcpService = r.value;
    this.vmnetBinder = (uuid, mac, preferredIp) => r.value.server.bindVmnet(uuid, mac, preferredIp);
    return ok(r.value);
  }

  /** The DHCP service (always present once `create` returned Ok). */
  get dhcp(): DhcpService {
    return this.dhcpService!;
  }

  /**
   * Fixes the address of a NIC, by MAC or vmnet UUID (`--reserve`). Fails when the address is
   * outside the pool, the gateway's, or held by another NIC (which keeps it).
   */
  reserve(r: { mac?: string; uuid?: string; ip: string }): Result<void, VnetError> {
    const ip = parseIpv4(r.ip);
    if (ip === undefined) return err(vnetError('invalid-address', `not an IPv4 address: ${r.ip}`));
    if ((r.mac === undefined) === (r.uuid === undefined)) return err(vnetError('invalid-argument', 'reserve: give exactly one of mac or uuid'));
    const sel = r.uuid !== undefined ? { uuid: r.uuid } : { mac: r.mac! };
    return this.dhcp.pool.reserve(sel, ip).map(() => undefined);
  }

  /** Current bound leases. */
  leases(): Array<{ ip: string; mac: string; uuid?: string; hostname?: string; expiresAt: number }> {
    return this.dhcp.pool
      .leases()
      .filter((l) => l.state === 'bound')
      .map((l) => ({
        ip: formatIpv4(l.ip),
        mac: formatMac(l.mac),
        ...(l.uuid !== undefined ? { uuid: l.uuid } : {}),
        ...(l.hostname !== undefined ? { hostname: l.hostname } : {}),
        expiresAt: l.expiresAt,
      }));
  }

  /** Frees a vanished guest's TCP flows. */
  private readonly onGuestGone: (ip: number) => void;

  /** An ICMP destination-unreachable for a guest SYN whose host connect failed (RFC 792 quote: IP header + 8 bytes). */
  private icmpForSyn(req: SynRequest, code: number): void {
    const q = Buffer.alloc(28);
    writeIpv4(q, 0, 40, 0, 64, IpProto.TCP, req.srcIp, req.dstIp);
    q.writeUInt16BE(req.srcPort, 20);
    q.writeUInt16BE(req.dstPort, 22);
    q.writeUInt32BE(req.params.irs, 24);
    this.icmp.sendUnreachable(req.dstIp, q, 0, 28, code);
  }

  /** Closes every listener and NIC, flushes the capture. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.unixListeners].map((l) => l.close()));
    this.unixListeners.clear();
    for (const nic of [...this.nics.values()]) nic.close('network closed');
    this.udpNat.close();
    this.reassembler.close();
    this.tcpOut.close();
    this.tcp.close();
    this.dns.close();
    const saved = await this.dhcpService?.close();
    if (saved?.isErr()) this.logger.error(`leases file: ${saved.error.message}`);
    await this.stopCapture();
  }

  private listen(path: string, onConnection: (s: import('node:net').Socket) => void): ResultAsync<UnixListener, ListenError | AttachError> {
    if (this.closed) return errAsync(vnetError('network-closed', 'the network is closed'));
    return listenUnix(path, onConnection).andThen((l) => {
      this.unixListeners.add(l);
      this.logger.info(`listening on ${path}`);
      return okAsync(l);
    });
  }

  /** The guest addresses reached through a NIC (from the MACs learnt on its port). */
  private guestIpsOf(nic: Nic): number[] {
    const macs = new Set(this.switch.macs.macsOf(nic.id));
    if (nic.mac >= 0) macs.add(nic.mac);
    return this.neighbours.entries().filter((e) => macs.has(e.mac)).map((e) => e.ip);
  }

  private detachNic(nic: Nic, reason: string): void {
    if (!this.nics.has(nic.id)) return;
    // Free every flow of the guest before its MACs are forgotten (a vanished VM leaves nothing behind).
    for (const ip of this.guestIpsOf(nic)) {
      this.udpNat.closeForGuest(ip);
      this.onGuestGone(ip);
      this.neighbours.forget(ip);
    }
    if (nic.uuid !== undefined) this.dhcpService?.server.unbindVmnet(nic.uuid);
    this.nics.delete(nic.id);
    this.switch.detach(nic.port);
    if (nic.port instanceof StreamPort) nic.port.close({ kind: 'closed', message: reason });
    this.logger.info(`NIC ${nic.name} detached: ${reason}`);
    this.emit('nic-detached', { id: nic.id, name: nic.name, reason });
  }
}

