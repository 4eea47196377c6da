/**
 * A VirtualNetwork: one L2 bridge with a user-space gateway on it. Reading `create` is reading the
 * architecture: options → switch → gateway stack (ARP, ICMP, UDP, IPv4 fragments, TCP) → services
 * (DNS, DHCP) → outbound NAT → transports (listeners and NICs). Packets flow one way: transport →
 * switch → stack → services/forward.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from 'neverthrow';
import { vnetError, type VnetError } from './errors.js';
import type { VirtualNetworkEvents } from './events.js';
import type { AddressMap } from './forward/address-map.js';
import type { EgressPolicy } from './forward/egress-policy.js';
import { OutboundNat } from './forward/outbound-nat.js';
import type { TcpOutbound } from './forward/tcp-outbound.js';
import type { UdpNat } from './forward/udp-nat.js';
import {
  attachHostInterface as attachHi,
  closeHostInterfaces,
  detachHostInterface as detachHi,
  hostInterfaceOf,
  type HostInterface,
  type HostInterfaceError,
  type HostInterfaceInfo,
  type HostInterfaceSpec,
} from './host-interface/index.js';
import { silentLogger, type Logger } from './logger.js';
import { nicRoutes } from './control/nic-routes.js';
import { eventRoutes } from './control/event-routes.js';
import { dnsRoutes } from './control/dns-routes.js';
import { serveControl as serveControlApi } from './control/routes.js';
import type { ControlServer } from './control/http-server.js';
import { PortForwarder, type ExposeHandle, type PortForwarderStats } from './forward/port-forwarder.js';
import type { ExposedPort, ExposeError, ExposeSpec, LeaseInfo, UnexposeKey } from './forward/expose-spec.js';
import { hostInterfaceRoutes } from './host-interface/index.js';
import { collectStats, flowsByNic, type NetworkStats } from './network-stats.js';
import type { Nic, NicStats, NicTransport } from './nic.js';
import { NicRegistry, type AttachError, type AttachExtra } from './nic-registry.js';
import { resolveOptions, type NetworkOptions, type OptionsError, type ResolvedOptions } from './options.js';
import { systemRuntime, type Runtime } from './runtime/runtime.js';
import type { DhcpService } from './services/dhcp/index.js';
import type { DnsService } from './services/dns/index.js';
import { startGatewayServices, type GatewayServices } from './services/gateway-services.js';
import { GatewayStack } from './stack/gateway-stack.js';
import type { Gateway } from './stack/gateway.js';
import type { IcmpLayer } from './stack/icmp.js';
import type { Ipv4Output } from './stack/ip-output.js';
import type { Ipv4Fragmenter } from './stack/ipv4-fragmenter.js';
import type { PmtuGuard } from './stack/ipv4-pmtu.js';
import type { Ipv4Reassembler } from './stack/ipv4-reassembly.js';
import type { Neighbours } from './stack/neighbours.js';
import type { TcpEndpoint } from './stack/tcp/endpoint.js';
import type { UdpLayer } from './stack/udp.js';
import { Switch } from './switch/switch.js';
import { qemuFraming, u16leFraming, type Framing } from './transports/framing.js';
import { listenUnix, type ListenError, type UnixListener } from './transports/unix-listener.js';
import { formatIpv4, formatMac, parseIpv4 } from './wire/address.js';
import { PcapWriter } from './wire/pcap.js';

export type { NetworkStats } from './network-stats.js';

/** Options of {@link VirtualNetwork.attach}. */
export interface AttachOptions {
  framing: 'qemu' | 'stdio';
  /** Label in logs and stats. */
  name?: string;
}

export type { AttachError } from './nic-registry.js';


/** One L2 bridge and its gateway. */
export class VirtualNetwork extends EventEmitter<VirtualNetworkEvents> {
  readonly options: ResolvedOptions;
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** The bridge (advanced use: attach custom ports). */
  readonly switch: Switch;
  /** The gateway's protocol layers. */
  readonly stack: GatewayStack;
  /** Guest-initiated traffic to the outside. */
  readonly nat: OutboundNat;
  private services!: GatewayServices;
  /** Guest ports exposed on the host (`exposePort`). */
  readonly ports: PortForwarder;
  private readonly controlServers = new Set<ControlServer>();
  private readonly nics: NicRegistry;
  private readonly unixListeners = new Set<UnixListener>();
  private pcap: PcapWriter | undefined;
  private closed = false;
  /** This network's own close() detaches its host interface (no chaining onto close needed). */
  readonly closesHostInterfaces = true;

  private constructor(options: ResolvedOptions, runtime: Runtime, logger: Logger) {
    super();
    this.options = options;
    this.runtime = runtime;
    this.logger = logger;
    this.switch = new Switch({ clock: runtime.clock });
    this.stack = new GatewayStack(this.switch, options, runtime);
    this.nat = new OutboundNat(this.stack, options, runtime, {
      logger,
      flowListening: () => this.listenerCount('flow-open') + this.listenerCount('flow-close') > 0,
      flowOpen: (e) => this.emit('flow-open', e),
      flowClose: (e) => this.emit('flow-close', e),
      // Attribution only (events, stats): the last known entries, without ageing anything out.
      nicOf: (ip) => {
        const mac = this.stack.neighbours.lastKnown(ip);
        const id = mac < 0 ? -1 : this.switch.macs.lastKnownPort(mac);
        return id < 0 ? undefined : id;
      },
    });
    this.nics = new NicRegistry({
      switch: this.switch,
      neighbours: this.stack.neighbours,
      runtime,
      logger,
      mtu: options.mtu,
      isClosed: () => this.closed,
      bindVmnet: (uuid, mac, ip) => this.dhcp.server.bindVmnet(uuid, mac, ip),
      unbindVmnet: (uuid) => this.services?.dhcp.server.unbindVmnet(uuid),
      forgetGuest: (ip) => {
        this.nat.closeForGuest(ip);
        this.stack.forgetGuest(ip);
      },
      attached: (e) => this.emit('nic-attached', e),
      detached: (e) => this.emit('nic-detached', e),
      error: (e) => this.emit('error', e),
    });
    this.ports = new PortForwarder({
      endpoint: this.stack.tcp,
      udp: this.stack.udp,
      gatewayIp: options.gatewayIp,
      hostLoopbackIp: options.hostIp,
      preserveClientAddress: options.preserveClientAddress,
      runtime,
      logger,
      leases: () => this.leases(),
      isGuestAddress: (ip) => this.stack.gateway.isGuestAddress(ip),
      neighbourKnown: (ip) => this.stack.neighbours.lookup(ip) >= 0,
    });
  }

  /** Creates a network from options (see {@link NetworkOptions}); nothing listens until asked. */
  static create(options: NetworkOptions = {}): Result<VirtualNetwork, OptionsError | VnetError<'pcap-open-failed'>> {
    const r = resolveOptions(options);
    if (r.isErr()) return err(r.error);
    const net = new VirtualNetwork(r.value, options.runtime ?? systemRuntime(), options.logger ?? silentLogger);
    const services = startGatewayServices(net.stack, r.value, net.runtime, net.logger, {
      wantsDnsQueries: () => net.listenerCount('dns-query') > 0,
      dnsQuery: (e) => net.emit('dns-query', e),
      lease: (e) => net.emit('lease', e),
      release: (e) => net.emit('release', e),
      error: (e) => net.emit('error', e),
    });
    if (services.isErr()) {
      net.nat.close();
      net.stack.close();
      return err(services.error);
    }
    net.services = services.value;
    if (r.value.pcap !== undefined) {
      const c = net.capture(r.value.pcap);
      if (c.isErr()) {
        void net.close();
        // Named by its option, so serve can name the flag (--pcap).
        return err(vnetError('pcap-open-failed', c.error.message, { cause: c.error.cause, option: 'pcap' }));
      }
    }
    return ok(net);
  }

  // ---- the parts, for services, forwarders, tests and advanced embedders ----------------------
  get neighbours(): Neighbours {
    return this.stack.neighbours;
  }
  get gateway(): Gateway {
    return this.stack.gateway;
  }
  get ipOut(): Ipv4Output {
    return this.stack.ipOut;
  }
  get icmp(): IcmpLayer {
    return this.stack.icmp;
  }
  get udp(): UdpLayer {
    return this.stack.udp;
  }
  get tcp(): TcpEndpoint {
    return this.stack.tcp;
  }
  get fragmenter(): Ipv4Fragmenter {
    return this.stack.fragmenter;
  }
  get reassembler(): Ipv4Reassembler {
    return this.stack.reassembler;
  }
  get pmtu(): PmtuGuard {
    return this.stack.pmtu;
  }
  get egress(): EgressPolicy {
    return this.nat.egress;
  }
  get addressMap(): AddressMap {
    return this.nat.addressMap;
  }
  get udpNat(): UdpNat {
    return this.nat.udpNat;
  }
  get tcpOut(): TcpOutbound {
    return this.nat.tcpOut;
  }
  /** DNS on the gateway (UDP and TCP 53): local names, then the upstreams. */
  get dns(): DnsService {
    return this.services.dns;
  }
  /** DHCP on the gateway: the lease pool, the server on UDP 67, the leases file. */
  get dhcp(): DhcpService {
    return this.services.dhcp;
  }

  // ---- NICs --------------------------------------------------------------------------------------

  /** Listens on a Unix socket for QEMU `-netdev stream` clients (u32 BE framing, protocols.md §6). */
  listenQemu(path: string): ResultAsync<UnixListener, ListenError | AttachError> {
    return this.listen(path, (s) => {
      const r = this.attachStream(s, qemuFraming, 'qemu', `qemu:${path}`);
      if (r.isErr()) s.destroy();
    });
  }

  /**
   * Listens for HyperKit virtio-vpnkit clients (vmnet protocol version 22, protocols.md §1): the
   * handshake assigns each UUID a stable MAC and (through DHCP's pool) its IP, then frames flow
   * with u16 LE framing. A failed handshake ends only that connection, with a logged reason.
   */
  listenHyperkit(path: string): ResultAsync<UnixListener, ListenError | AttachError> {
    return this.listen(path, (s) => void this.acceptVmnet(s, `vmnet:${path}`));
  }

  /** Attaches any duplex byte stream as a NIC with the given framing. */
  attach(stream: Duplex, opts: AttachOptions): Result<Nic, AttachError> {
    const framing = opts.framing === 'qemu' ? qemuFraming : u16leFraming;
    return this.attachStream(stream, framing, opts.framing, opts.name ?? `${opts.framing}:stream`);
  }

  /** Runs the vmnet server handshake on any duplex (a Unix socket, a vsock stream) and attaches the NIC. */
  acceptVmnet(stream: Duplex, label: string): ResultAsync<Nic, VnetError> {
    return this.nics.acceptVmnet(stream, label);
  }

  /**
   * Attaches a framed stream as a NIC. `initial` holds bytes that arrived with a handshake;
   * `mac`/`uuid` come from vmnet. @internal (used by transports)
   */
  attachStream(stream: Duplex, framing: Framing, transport: NicTransport, label: string, extra: AttachExtra = {}): Result<Nic, AttachError> {
    return this.nics.attachStream(stream, framing, transport, label, extra);
  }

  /** The attached NIC with this id. */
  nic(id: number): Nic | undefined {
    return this.nics.get(id);
  }

  /** All attached NICs. */
  allNics(): Nic[] {
    return this.nics.all();
  }

  // ---- addresses ------------------------------------------------------------------------------

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

  /** Current bound leases; `expiresAt` in ms since the epoch, as in the `lease` event. */
  leases(): LeaseInfo[] {
    return this.dhcp.pool
      .leases()
      .filter((l) => l.state === 'bound')
      .map((l) => ({
        ip: formatIpv4(l.ip),
        mac: formatMac(l.mac),
        ...(l.uuid !== undefined ? { uuid: l.uuid } : {}),
        ...(l.hostname !== undefined ? { hostname: l.hostname } : {}),
        expiresAt: this.dhcp.server.expiresAtWall(l),
      }));
  }

  /** Whether the gateway owns `ip` (gateway address or host-loopback alias). */
  owns(ip: number): boolean {
    return this.stack.owns(ip);
  }

  /** The gateway address as text. */
  get gatewayAddress(): string {
    return formatIpv4(this.options.gatewayIp);
  }

  // ---- host side -------------------------------------------------------------------------------

  /**
   * Exposes a guest port on the host: `exposePort(22)` listens on 127.0.0.1:22 for the only leased
   * guest's port 22; the full form picks guest, host address and port (0 = any free one, reported by
   * the handle), TCP, UDP or a host Unix socket (docs-site/guides/expose-ports.md). Each host
   * connection becomes a TCP connection into the guest from the client's own address and port (a
   * loopback client appears as the host-loopback alias; `preserveClientAddress: false` shows the
   * gateway instead). `handle.close()` unexposes.
   */
  exposePort(spec: ExposeSpec): ResultAsync<ExposeHandle, ExposeError> {
    if (this.closed) return errAsync(vnetError('network-closed', 'the network is closed'));
    return this.ports.expose(spec);
  }

  /** Stops exposing a port and closes its live connections. */
  unexposePort(key: UnexposeKey): ResultAsync<void, ExposeError> {
    return this.ports.unexpose(key);
  }

  /** The ports exposed now. */
  listExposed(): ExposedPort[] {
    return this.ports.list();
  }

  /** Per-NIC counters and open flows (the `nics` part of {@link stats}); flows are counted per call, O(flows). */
  nicStats(): NicStats[] {
    const flows = flowsByNic(this.nat, this.ports, (ip) => this.nat.nicOf(ip));
    return this.allNics().map((n) => n.stats(formatMac, flows.get(n.id)));
  }

  /**
   * Serves the HTTP control API on a Unix socket (cli.md: gvisor-tap-vsock's forwarder paths,
   * `/leases`, `/stats`, plus `/nics/{id}/condition` and `/host-interface`). Closed with the network.
   */
  serveControl(path: string): ResultAsync<ControlServer, VnetError<'listen-failed'> | VnetError<'network-closed'>> {
    if (this.closed) return errAsync(vnetError('network-closed', 'the network is closed'));
    return serveControlApi(path, this, [...nicRoutes(this), ...hostInterfaceRoutes(this), ...eventRoutes(this), ...dnsRoutes(() => this.dns)]).map((srv) => {
      this.controlServers.add(srv);
      this.logger.info(`control API on ${path}`);
      return srv;
    });
  }

  /**
   * Gives the host an interface on the bridge (Linux: a TAP with an address in the subnet), so
   * host programs reach every guest by its IP; `routes` add guest-side subnets
   * (docs-site/guides/host-interface.md). Needs the native addon and CAP_NET_ADMIN.
   */
  attachHostInterface(spec: HostInterfaceSpec): ResultAsync<HostInterface, HostInterfaceError> {
    return attachHi(this, spec);
  }

  /** Removes the host interface `name` (the device and its routes are deleted). */
  detachHostInterface(name: string): ResultAsync<void, HostInterfaceError> {
    return detachHi(this, name);
  }

  /** The host interface, if one is attached. */
  hostInterfaces(): HostInterfaceInfo[] {
    const h = hostInterfaceOf(this);
    return h !== undefined ? [h.info()] : [];
  }

  // ---- observability ---------------------------------------------------------------------------

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
  stats(): NetworkStats & { expose: PortForwarderStats } {
    return { ...collectStats(this.nicStats(), this.switch, this.stack, this.nat, this.services), expose: this.ports.stats() };
  }

  /** Closes every listener and NIC, writes the leases file, flushes the capture. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.controlServers].map((s) => s.close()));
    this.controlServers.clear();
    await this.ports.close();
    await closeHostInterfaces(this);
    await Promise.all([...this.unixListeners].map((l) => l.close()));
    this.unixListeners.clear();
    this.nics.closeAll('network closed');
    this.nat.close();
    this.stack.close();
    await this.services?.close();
    await this.stopCapture();
  }

  // ---- internals -------------------------------------------------------------------------------

  private listen(path: string, onConnection: (s: Socket) => void): ResultAsync<UnixListener, ListenError | AttachError> {
    if (this.closed) return errAsync(vnetError('network-closed', 'the network is closed'));
    return listenUnix(path, onConnection).andThen((l) => {
      this.unixListeners.add(l);
      this.logger.info(`listening on ${path}`);
      return okAsync(l);
    });
  }
}
