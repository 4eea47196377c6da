/**
 * A virtual NIC: one switch port plus what the network knows about it (transport, MAC, vmnet UUID).
 * @module
 */
import type { Result } from 'neverthrow';
import { ConditionSlot, type ConditionHost, type ConditionSlotError, type ConditionStats } from './switch/conditioner.js';
import type { ConditionSpec } from './switch/condition-spec.js';
import type { SwitchPort } from './switch/port.js';
import { dropCountsToObject } from './wire/drop.js';

/** Transport kinds a NIC can arrive over. */
export type NicTransport = 'qemu' | 'vmnet' | 'stdio' | 'tap';

/** Traffic of one NIC as seen by `stats()`. */
export interface NicStats {
  id: number;
  name: string;
  transport: NicTransport;
  mac?: string;
  uuid?: string;
  /** Frames/bytes the NIC sent into the bridge. */
  framesIn: number;
  bytesIn: number;
  /** Frames/bytes delivered to the NIC. */
  framesOut: number;
  bytesOut: number;
  drops: Record<string, number>;
  /**
   * Open flows of the guest(s) behind this NIC, counted when stats are asked for: guest TCP
   * connections through the outbound NAT (host connects in progress included) plus live
   * connections from exposed TCP/Unix ports into the guest; UDP NAT flows plus client flows of
   * exposed UDP ports; ICMP echo flows (one host ping socket each). A flow is counted under the
   * NIC its guest address is reached through now (neighbour cache, then MAC table); a flow whose
   * address maps to no NIC is counted under none (the network-wide totals still have it).
   */
  tcpFlows: number;
  udpFlows: number;
  icmpFlows: number;
}

/** Open flows of one NIC (the flow fields of {@link NicStats}). */
export interface NicFlowCounts {
  tcpFlows: number;
  udpFlows: number;
  icmpFlows: number;
}

const NO_FLOWS: NicFlowCounts = { tcpFlows: 0, udpFlows: 0, icmpFlows: 0 };

/** A NIC attached to a VirtualNetwork. */
export class Nic {
  /** The MAC the transport announced (vmnet's Vif), -1 when it did not. */
  announcedMac = -1;
  private slot: ConditionSlot | undefined;
  constructor(
    readonly port: SwitchPort,
    readonly transport: NicTransport,
    readonly uuid: string | undefined,
    /** The first MAC the switch learnt on this NIC's port, -1 before any frame. */
    private readonly learntMac: () => number,
    private readonly detach: (nic: Nic, reason: string) => void,
    /** Where this NIC's conditioning middleware plugs in (made on first use: unconditioned NICs cost nothing). */
    private readonly conditionHost: () => ConditionHost,
  ) {}

  private conditioning(): ConditionSlot {
    return (this.slot ??= new ConditionSlot(this.conditionHost()));
  }

  /**
   * Conditions this NIC at runtime: added latency and jitter, loss, a rate cap, a partition
   * (`down`), seeded for replay (docs-site/guides/conditioning.md). `null` removes it.
   */
  condition(spec: ConditionSpec | null): Result<void, ConditionSlotError> {
    return this.conditioning().condition(spec);
  }

  /** What conditioning did to this NIC's frames. */
  conditionStats(): ConditionStats {
    return this.conditioning().stats();
  }

  /** Removes conditioning (held frames are dropped); called when the NIC detaches. @internal */
  closeConditioning(): void {
    this.slot?.close();
  }

  /** The NIC's MAC as a number: announced by the transport, else learnt from its frames; -1 before either. */
  get mac(): number {
    return this.announcedMac >= 0 ? this.announcedMac : this.learntMac();
  }

  get id(): number {
    return this.port.id;
  }
  get name(): string {
    return this.port.name;
  }

  /** Disconnects the NIC (its flows are freed, its MACs forgotten). */
  close(reason = 'closed by the application'): void {
    this.detach(this, reason);
  }

  /** Counters snapshot; `flows` are this NIC's open flows (the network counts them, none by default). */
  stats(formatMac: (m: number) => string, flows: NicFlowCounts = NO_FLOWS): NicStats {
    const c = this.port.counters;
    return {
      id: this.id,
      name: this.name,
      transport: this.transport,
      ...(this.mac >= 0 ? { mac: formatMac(this.mac) } : {}),
      ...(this.uuid !== undefined ? { uuid: this.uuid } : {}),
      framesIn: c.framesIn,
      bytesIn: c.bytesIn,
      framesOut: c.framesOut,
      bytesOut: c.bytesOut,
      drops: dropCountsToObject(c.drops),
      tcpFlows: flows.tcpFlows,
      udpFlows: flows.udpFlows,
      icmpFlows: flows.icmpFlows,
    };
  }
}
