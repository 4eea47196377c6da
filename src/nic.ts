/**
 * A virtual NIC: one switch port plus what the network knows about it (transport, MAC, vmnet UUID).
 * @module
 */
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
}

/** A NIC attached to a VirtualNetwork. */
export class Nic {
  /** MAC as a number once known (-1 before). */
  mac = -1;
  constructor(
    readonly port: SwitchPort,
    readonly transport: NicTransport,
    readonly uuid: string | undefined,
    private readonly detach: (nic: Nic, reason: string) => void,
  ) {}

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

  /** Counters snapshot. */
  stats(formatMac: (m: number) => string): NicStats {
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
    };
  }
}
