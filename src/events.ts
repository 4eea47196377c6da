/**
 * The typed events of a VirtualNetwork (eventemitter3). Emitted only from the facade; inner layers
 * make plain calls.
 * @module
 */
import type { VnetError } from './errors.js';
import type { DnsQueryEvent } from './services/dns/index.js';
import type { FlowCloseEvent, FlowOpenEvent } from './forward/flow-events.js';

/** A NIC joined the bridge. */
export interface NicAttachedEvent {
  id: number;
  name: string;
  transport: 'qemu' | 'vmnet' | 'stdio' | 'tap';
  /**
   * The NIC's MAC when the transport announces it (vmnet). QEMU and stdio NICs announce none; their
   * MAC appears in `stats().nics` once the switch has seen a frame from them.
   */
  mac?: string;
  uuid?: string;
}

/** A NIC left the bridge. */
export interface NicDetachedEvent {
  id: number;
  name: string;
  reason: string;
}

/** A DHCP lease was granted or renewed. */
export interface LeaseEvent {
  ip: string;
  mac: string;
  uuid?: string;
  hostname?: string;
  /** Absolute expiry, ms since the epoch. */
  expiresAt: number;
}

/** A lease was released by its client. */
export interface ReleaseEvent {
  ip: string;
  mac: string;
}

/** Events of {@link VirtualNetwork}. */
export interface VirtualNetworkEvents {
  'nic-attached': (e: NicAttachedEvent) => void;
  'nic-detached': (e: NicDetachedEvent) => void;
  lease: (e: LeaseEvent) => void;
  release: (e: ReleaseEvent) => void;
  /** A guest flow (TCP connection, UDP or ICMP echo flow) through the NAT started (opt-in). */
  'flow-open': (e: FlowOpenEvent) => void;
  /** A guest flow ended, with bytes each way, duration and why (opt-in; failed attempts have `opened: false`). */
  'flow-close': (e: FlowCloseEvent) => void;
  /** A DNS query the gateway answered (opt-in: nothing is built without a listener). */
  'dns-query': (e: DnsQueryEvent) => void;
  /** Something failed that is not the caller's direct fault: a handshake, a NIC, a lease conflict. */
  error: (e: VnetError) => void;
}
