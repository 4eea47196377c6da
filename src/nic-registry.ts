/**
 * The NICs of a network: attaching framed streams as switch ports (QEMU stream, stdio, vmnet after
 * its handshake), and detaching them — which frees everything their guest held (NAT flows, TCP
 * connections, the vmnet address pin, conditioning) before its MACs are forgotten, so a vanished
 * VM leaves nothing behind and other guests are untouched.
 * @module
 */
import type { Duplex } from 'node:stream';
import { err, ok, type Result, type ResultAsync } from 'neverthrow';
import { vnetError, type VnetError } from './errors.js';
import type { NicAttachedEvent, NicDetachedEvent } from './events.js';
import type { Logger } from './logger.js';
import { Nic, type NicTransport } from './nic.js';
import type { Runtime } from './runtime/runtime.js';
import type { Neighbours } from './stack/neighbours.js';
import type { Switch } from './switch/switch.js';
import { vmnetFraming, type Framing } from './transports/framing.js';
import { StreamPort, type StreamPortCloseReason } from './transports/stream-port.js';
import { vmnetServerHandshake } from './transports/vmnet/handshake.js';
import { macFromUuid } from './transports/vmnet/mac-from-uuid.js';
import { formatMac, macToBytes } from './wire/address.js';
import { u48be } from './wire/bytes.js';
import { ETH_HLEN } from './wire/ethernet.js';

/** What the registry needs from its network. */
export interface NicRegistryHost {
  readonly switch: Switch;
  readonly neighbours: Pick<Neighbours, 'entries'>;
  readonly runtime: Runtime;
  readonly logger: Logger;
  readonly mtu: number;
  isClosed(): boolean;
  /** Binds a vmnet UUID's address at handshake time (the DHCP pool). */
  bindVmnet(uuid: string, mac: number, preferredIp: number | undefined): Result<unknown, VnetError>;
  /** Releases a vmnet UUID's pin when its NIC goes. */
  unbindVmnet(uuid: string): void;
  /** Frees whatever the network holds for a guest address whose NIC went away. */
  forgetGuest(ip: number): void;
  attached(e: NicAttachedEvent): void;
  detached(e: NicDetachedEvent): void;
  error(e: VnetError): void;
}

/** Extra facts a transport knows about a NIC it attaches. */
export interface AttachExtra {
  /** Bytes that arrived with a handshake and belong to the frame stream. */
  initial?: Uint8Array;
  mac?: number;
  uuid?: string;
  /** Largest frame (default MTU + 14). */
  maxFrame?: number;
}

/** Errors of attaching a NIC. */
export type AttachError = VnetError<'network-closed'>;

/** The attached NICs of one network. */
export class NicRegistry {
  private readonly nics = new Map<number, Nic>();
  private nextSeq = 1;

  constructor(private readonly h: NicRegistryHost) {}

  /** The attached NIC with this id. */
  get(id: number): Nic | undefined {
    return this.nics.get(id);
  }

  /** All attached NICs. */
  all(): Nic[] {
    return [...this.nics.values()];
  }

  /** Attaches a framed stream as a NIC. */
  attachStream(stream: Duplex, framing: Framing, transport: NicTransport, label: string, extra: AttachExtra = {}): Result<Nic, AttachError> {
    const h = this.h;
    if (h.isClosed()) return err(vnetError('network-closed', 'the network is closed'));
    const port = new StreamPort(stream, {
      name: `${label}#${this.nextSeq++}`,
      framing,
      maxFrame: extra.maxFrame ?? h.mtu + ETH_HLEN,
      ...(extra.initial !== undefined ? { initial: extra.initial } : {}),
    });
    const toSwitch = (p: StreamPort, b: Uint8Array, off: number, len: number): void => h.switch.input(p, b, off, len);
    // A QEMU or stdio NIC announces no MAC: it is the first source the switch learnt on its port.
    const learnt = (): number => h.switch.macs.macsOf(port.id)[0] ?? -1;
    const nic = new Nic(port, transport, extra.uuid, learnt, (n, reason) => this.detach(n, reason), () => ({
      port,
      runtime: h.runtime,
      swapPort: (cur, next) => h.switch.replace(cur, next),
      routeInput: (sink) => {
        port.onFrame = sink !== undefined ? (_p, b, off, len) => sink(b, off, len) : toSwitch;
      },
      switchInput: (b, off, len) => h.switch.input(port, b, off, len),
    }));
    if (extra.mac !== undefined) nic.announcedMac = extra.mac;
    h.switch.attach(port);
    this.nics.set(port.id, nic);
    port.onFrame = toSwitch;
    // An oversized frame is the guest's misconfiguration (an MTU or VLAN tag over what we
    // carry), not a broken stream: it is skipped and counted (tooBig), and said once per NIC.
    port.onOversize = (len) => {
      port.onOversize = undefined;
      h.logger.warn(`${port.name}: dropped a frame of ${len} bytes, over this NIC's maximum of ${port.maxFrame} (further ones are counted as tooBig drops)`);
    };
    port.onClose = (reason: StreamPortCloseReason) => {
      if (reason.kind === 'framing' || reason.kind === 'error') {
        h.logger.warn(reason.message);
        h.error(vnetError('nic-failed', reason.message, { cause: reason }));
      }
      this.detach(nic, reason.message);
    };
    port.start();
    h.logger.info(`NIC ${port.name} attached (${transport}${extra.uuid ? `, uuid ${extra.uuid}` : ''})`);
    h.attached({
      id: port.id,
      name: port.name,
      transport,
      ...(extra.mac !== undefined ? { mac: formatMac(extra.mac) } : {}),
      ...(extra.uuid !== undefined ? { uuid: extra.uuid } : {}),
    });
    return ok(nic);
  }

  /** Runs the vmnet server handshake (protocols.md §1) on a stream and attaches the NIC. */
  acceptVmnet(stream: Duplex, label: string): ResultAsync<Nic, VnetError> {
    const h = this.h;
    return vmnetServerHandshake(stream, {
      scheduler: h.runtime.scheduler,
      rng: h.runtime.rng,
      log: (line) => h.logger.debug(`${label}: ${line}`),
      assign: (req) => {
        const mac = this.uniqueMacFor(req.uuid);
        // vpnkit binds the UUID's address at handshake time, before any DHCP (protocols.md §1.7).
        const bound = h.bindVmnet(req.uuid, mac, req.preferredIp);
        if (bound.isErr()) return err({ reason: bound.error.message });
        return ok({ mac: macToBytes(mac), mtu: h.mtu });
      },
    })
      .mapErr((e): VnetError => {
        h.logger.warn(`${label}: vmnet handshake failed: ${e.message}`);
        h.error(vnetError('handshake-failed', `${label}: ${e.message}`, { cause: e }));
        return e;
      })
      .andThen((session) => {
        session.stream.on('error', () => {});
        const r = this.attachStream(session.stream, vmnetFraming, 'vmnet', label, {
          initial: session.rest,
          mac: u48be(session.mac, 0),
          uuid: session.uuid,
          maxFrame: session.maxPacketSize,
        });
        if (r.isErr()) session.stream.destroy();
        return r;
      });
  }

  /** Detaches every NIC. */
  closeAll(reason: string): void {
    for (const nic of [...this.nics.values()]) this.detach(nic, reason);
  }

  /** The stable MAC for a UUID, bumped past any MAC already in use by another NIC. */
  private uniqueMacFor(uuid: string): number {
    let mac = macFromUuid(uuid);
    const taken = new Set(this.all().filter((n) => n.uuid !== uuid).map((n) => n.mac));
    while (taken.has(mac)) mac = 0x020000000000 + ((mac + 1) % 0x10000000000);
    return mac;
  }

  /** The guest addresses reached through a NIC (from the MACs learnt on its port). */
  private guestIpsOf(nic: Nic): number[] {
    const macs = new Set(this.h.switch.macs.macsOf(nic.id));
    if (nic.mac >= 0) macs.add(nic.mac);
    return this.h.neighbours
      .entries()
      .filter((e) => macs.has(e.mac))
      .map((e) => e.ip);
  }

  private detach(nic: Nic, reason: string): void {
    const h = this.h;
    if (!this.nics.has(nic.id)) return;
    // Free every flow of the guest before its MACs are forgotten.
    for (const ip of this.guestIpsOf(nic)) h.forgetGuest(ip);
    if (nic.uuid !== undefined) h.unbindVmnet(nic.uuid);
    nic.closeConditioning();
    this.nics.delete(nic.id);
    h.switch.detach(nic.port);
    if (nic.port instanceof StreamPort) nic.port.close({ kind: 'closed', message: reason });
    h.logger.info(`NIC ${nic.name} detached: ${reason}`);
    h.detached({ id: nic.id, name: nic.name, reason });
  }
}
