/**
 * Flow events (user-needs.md wanted feature 7): a guest's TCP connection, UDP flow or ICMP echo
 * flow through the host reports one `flow-open` when it starts carrying traffic and one
 * `flow-close` when it ends, with the bytes each way, its duration and why it ended.
 *
 * The forwarders (TcpOutbound, UdpNat, IcmpEchoForwarder) talk to a {@link FlowEventSink}. They
 * read `sink.enabled` once when a flow opens; a flow opened while nobody listened is never
 * reported, so without a listener no event object is built and nothing is done per packet (the
 * byte counts are plain number fields the forwarders keep anyway). A flow opened while somebody
 * listened is always closed, so opens and closes pair up by `id`.
 *
 * An attempt that never opened (refused by the host, denied by the egress policy, over a limit,
 * timed out while connecting, unreachable) reports a `flow-close` alone, with `opened: false`.
 *
 * {@link FlowEventHub} is the sink the facade uses: it formats the addresses, numbers the flows,
 * resolves the guest's NIC and hands the events to the facade's emitter.
 * @module
 */
import type { Clock } from '../runtime/clock.js';
import { formatIpv4 } from '../wire/address.js';

/** Transport of a flow. */
export type FlowProtocol = 'tcp' | 'udp' | 'icmp';

/**
 * Why a flow ended.
 * - `closed`: both sides finished normally (TCP FINs; a UDP DNS flow whose queries were all answered);
 * - `reset`: a TCP reset from either side, or a host socket error;
 * - `refused`: the host refused the connect (ECONNREFUSED), the guest got RST;
 * - `denied`: the egress policy refused the destination (nothing was dialled);
 * - `timeout`: the host connect timed out, or the guest stopped acknowledging (TCP retransmissions exhausted);
 * - `unreachable`: the host reported the destination unreachable while connecting;
 * - `idle`: idle longer than the configured idle timeout (UDP and ICMP always; TCP only with `tcpIdleTimeoutMs`);
 * - `nic-gone`: the guest's NIC went away;
 * - `limit`: over a flow cap (refused, or the least recently used flow evicted);
 * - `shutdown`: the network (or the forwarder) was closed.
 */
export type FlowCloseReason = 'closed' | 'reset' | 'refused' | 'denied' | 'timeout' | 'unreachable' | 'idle' | 'nic-gone' | 'limit' | 'shutdown';

/** An address and port as reported in events. For ICMP echo flows `port` is the echo identifier (0 for `remote`). */
export interface FlowEndpoint {
  ip: string;
  port: number;
}

/** A flow started (`flow-open`). */
export interface FlowOpenEvent {
  /** Pairs this event with its `flow-close`; unique within one network. */
  id: number;
  protocol: FlowProtocol;
  /** The guest's side of the flow. */
  guest: FlowEndpoint;
  /** The destination as the guest addressed it (e.g. the host-loopback alias 192.168.65.254). */
  remote: FlowEndpoint;
  /**
   * Where the flow really went on the host (e.g. 127.0.0.1). For ICMP, `port` is the identifier
   * the host kernel gave the ping socket (0 before the first request was sent).
   */
  host: FlowEndpoint;
  /** The NIC the guest is attached through, when known. */
  nic?: number;
}

/** A flow ended (`flow-close`). */
export interface FlowCloseEvent extends FlowOpenEvent {
  /** False for an attempt that never opened (no `flow-open` was emitted for it). */
  opened: boolean;
  /** Payload bytes delivered toward the guest (TCP: accepted into the guest connection; UDP/ICMP: datagram/echo data). */
  bytesToGuest: number;
  /** Payload bytes the guest sent that went to the host. */
  bytesFromGuest: number;
  /** From open (or the attempt) to close, ms on the network's clock. */
  durationMs: number;
  closeReason: FlowCloseReason;
}

/** The numbers a forwarder has at hand; formatted only when the flow is reported. */
export interface FlowTuple {
  protocol: FlowProtocol;
  guestIp: number;
  guestPort: number;
  remoteIp: number;
  remotePort: number;
  /** The host-side address; negative (unroutable) reports as `remoteIp`. */
  hostIp: number;
  hostPort: number;
}

/** What a forwarder keeps for a reported flow, to close it later. Opaque to forwarders. */
export interface FlowHandle {
  readonly event: FlowOpenEvent;
  /** Clock ms at open. */
  readonly startedAt: number;
}

/**
 * Where forwarders report flows. Call `open`/`close`/`reject` only when `enabled` was true when the
 * flow (or attempt) started; keep the handle `open` returned and pass it to `close` exactly once.
 */
export interface FlowEventSink {
  /** Whether anybody listens; read once per flow, never per packet. */
  readonly enabled: boolean;
  /** A flow started carrying traffic; emits `flow-open`. */
  open(t: FlowTuple): FlowHandle;
  /** A flow opened with `open` ended; emits `flow-close`. */
  close(h: FlowHandle, bytesToGuest: number, bytesFromGuest: number, reason: FlowCloseReason): void;
  /** An attempt that never opened; emits `flow-close` with `opened: false`. `startedAt` defaults to now. */
  reject(t: FlowTuple, reason: FlowCloseReason, startedAt?: number): void;
}

/** Options of a {@link FlowEventHub}. */
export interface FlowEventHubOptions {
  clock: Clock;
  /** Whether anybody listens (e.g. the facade's listener count for `flow-open`/`flow-close`). */
  listening: () => boolean;
  onOpen: (e: FlowOpenEvent) => void;
  onClose: (e: FlowCloseEvent) => void;
  /** The NIC a guest address is reached through (looked up once per reported flow). */
  nicOf?: (guestIp: number) => number | undefined;
}

/** The facade's sink: numbers flows, formats addresses, resolves the NIC, emits through callbacks. */
export class FlowEventHub implements FlowEventSink {
  private nextId = 1;
  constructor(private readonly o: FlowEventHubOptions) {}

  get enabled(): boolean {
    return this.o.listening();
  }

  open(t: FlowTuple): FlowHandle {
    const event = this.build(t);
    this.o.onOpen(event);
    return { event, startedAt: this.o.clock.now() };
  }

  close(h: FlowHandle, bytesToGuest: number, bytesFromGuest: number, reason: FlowCloseReason): void {
    const durationMs = Math.max(0, this.o.clock.now() - h.startedAt);
    this.o.onClose({ ...h.event, opened: true, bytesToGuest, bytesFromGuest, durationMs, closeReason: reason });
  }

  reject(t: FlowTuple, reason: FlowCloseReason, startedAt?: number): void {
    const durationMs = startedAt === undefined ? 0 : Math.max(0, this.o.clock.now() - startedAt);
    this.o.onClose({ ...this.build(t), opened: false, bytesToGuest: 0, bytesFromGuest: 0, durationMs, closeReason: reason });
  }

  private build(t: FlowTuple): FlowOpenEvent {
    const nic = this.o.nicOf?.(t.guestIp);
    return {
      id: this.nextId++,
      protocol: t.protocol,
      guest: { ip: formatIpv4(t.guestIp), port: t.guestPort },
      remote: { ip: formatIpv4(t.remoteIp), port: t.remotePort },
      // An unroutable destination (address-map.ts) was never mapped: the host side is what the guest named.
      host: { ip: formatIpv4(t.hostIp < 0 ? t.remoteIp : t.hostIp), port: t.hostPort },
      ...(nic !== undefined ? { nic } : {}),
    };
  }
}

/** A sink nobody listens to (the default of every forwarder). */
export const noFlowEvents: FlowEventSink = {
  enabled: false,
  open(t: FlowTuple): FlowHandle {
    return { event: { id: 0, protocol: t.protocol, guest: { ip: '', port: 0 }, remote: { ip: '', port: 0 }, host: { ip: '', port: 0 } }, startedAt: 0 };
  },
  close(): void {},
  reject(): void {},
};
