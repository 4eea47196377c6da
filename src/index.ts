/**
 * vnetkit: VPN-friendly user-space networking for virtual machines.
 *
 * ```ts
 * import { VirtualNetwork } from 'vnetkit';
 * const net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
 * await net.listenQemu('/tmp/vm.sock');
 * ```
 * The VM launchers and vsock transports are separate entry points: `adapters/qemu`,
 * `adapters/hyperkit`, `adapters/hvsock`.
 * @module
 */
export { VirtualNetwork, type AttachOptions, type AttachError } from './virtual-network.js';
export type { ExposeSpec, ExposeOptions, ExposedPort, ExposeError, ExposeErrorKind, ExposeProtocol, UnexposeKey, LeaseInfo } from './forward/expose-spec.js';
export type { ExposeHandle, PortForwarderStats } from './forward/port-forwarder.js';
export type { ControlServer } from './control/http-server.js';
export type { NetworkStats } from './network-stats.js';
export type { NetworkOptions, Reservation, ResolvedOptions, OptionsError } from './options.js';
export { resolveOptions, MAX_MTU, MIN_MTU } from './options.js';
export type { VirtualNetworkEvents, NicAttachedEvent, NicDetachedEvent, LeaseEvent, ReleaseEvent } from './events.js';
export type { VnetError } from './errors.js';
export { Nic, type NicStats, type NicTransport } from './nic.js';
export type { ConditionSpec, ConditionParams, ConditionError } from './switch/condition-spec.js';
export type { ConditionStats, ConditionSlotError } from './switch/conditioner.js';
export { parseConditionSpec, selectsNic, type ConditionRule, type NicSelector } from './switch/condition-flag.js';
export type { FlowOpenEvent, FlowCloseEvent, FlowCloseReason } from './forward/flow-events.js';
export type { DnsQueryEvent, DnsEventAnswer, DnsAnswerSource, DnsMode, DnsServiceStats, HostResolverSetting } from './services/dns/index.js';
export {
  HostInterface,
  type HostInterfaceSpec,
  type HostInterfaceInfo,
  type HostInterfaceError,
  type HostInterfaceErrorKind,
  type HostRoute,
} from './host-interface/index.js';
export { streamLogger, silentLogger, type Logger, type LogLevel } from './logger.js';
export type { UnixListener, ListenError } from './transports/unix-listener.js';
export { ManualClock, systemClock, type Clock } from './runtime/clock.js';
export { SeededRng, CryptoRng, type Rng } from './runtime/rng.js';
export { ManualScheduler, SystemScheduler, Scheduler, Timer } from './runtime/scheduler.js';
export { systemRuntime, type Runtime } from './runtime/runtime.js';
