/**
 * vnetkit: VPN-friendly user-space networking for virtual machines.
 *
 * ```ts
 * import { VirtualNetwork } from 'vnetkit';
 * const net = VirtualNetwork.create({ subnet: '192.168.65.0/24' })._unsafeUnwrap();
 * await net.listenQemu('/tmp/vm.sock');
 * ```
 * @module
 */
export { VirtualNetwork, type AttachOptions, type AttachError, type NetworkStats } from './virtual-network.js';
export type { NetworkOptions, Reservation, ResolvedOptions, OptionsError } from './options.js';
export { resolveOptions, MAX_MTU } from './options.js';
export type { VirtualNetworkEvents, NicAttachedEvent, NicDetachedEvent, LeaseEvent, ReleaseEvent } from './events.js';
export type { VnetError } from './errors.js';
export { Nic, type NicStats, type NicTransport } from './nic.js';
export { streamLogger, silentLogger, type Logger, type LogLevel } from './logger.js';
export type { UnixListener, ListenError } from './transports/unix-listener.js';
export { ManualClock, systemClock, type Clock } from './runtime/clock.js';
export { SeededRng, CryptoRng, type Rng } from './runtime/rng.js';
export { ManualScheduler, SystemScheduler, Scheduler, Timer } from './runtime/scheduler.js';
export { systemRuntime, type Runtime } from './runtime/runtime.js';
