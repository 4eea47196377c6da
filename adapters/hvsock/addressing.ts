/**
 * Hyper-V socket and vsock addressing (protocols.md §2.1):
 * - vsock port ⇄ Hyper-V service GUID through the template `%08x-FACB-11E6-BD58-64006A7986D3`
 *   (port 62373 ⇄ `0000f3a5-facb-…`, 1024 ⇄ `00000400-facb-…`);
 * - vpnkit's legacy fixed service GUIDs and the well-known Hyper-V VM ids;
 * - vsock CIDs;
 * - the SOCKADDR_HV byte layout (u16 family, u16 reserved, VmId, ServiceId; GUIDs in
 *   Windows memory order; 36 bytes).
 * GUID text handling lives in `guid.ts`; URIs in `uri.ts`.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { invalidAddress, type InvalidAddress } from './errors.js';
import { guidConstant, guidFromBytes, guidToBytes, type Guid } from './guid.js';

/** The fixed part of the vsock-port service GUID template (after the 8 port digits). */
export const VSOCK_TEMPLATE_SUFFIX = '-facb-11e6-bd58-64006a7986d3';

/** Largest vsock port (ports are u32; 0xFFFFFFFF doubles as VMADDR_PORT_ANY). */
export const MAX_VSOCK_PORT = 0xffffffff;

/** vpnkit's legacy service GUIDs, used when a hyperv-* URI omits the service (§2.1, §2.2). */
export const LEGACY_SERVICE_IDS = {
  /** The vmnet Ethernet link (protocols.md §1). */
  ethernet: guidConstant('30D48B34-7D27-4B0B-AAAF-BBBED334DD59'),
  /** 9P control and port-forward data. */
  ports: guidConstant('0B95756A-9985-48AD-9470-78E060895BE7'),
} as const;

/** Well-known Hyper-V VM ids (the `HV_GUID_*` constants). */
export const HV_VM_IDS = {
  /** Listen on all partitions. */
  wildcard: guidConstant('00000000-0000-0000-0000-000000000000'),
  /** Broadcast. */
  broadcast: guidConstant('FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'),
  /** All child partitions (VMs) of this host. */
  children: guidConstant('90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd'),
  /** This partition. */
  loopback: guidConstant('e0e16197-dd56-4a10-9195-5ee7a155a838'),
  /** The parent partition (seen from a VM: its host). */
  parent: guidConstant('a42e7cda-d03f-480c-9cc2-a4de20abb878'),
} as const;

/** Names accepted for {@link HV_VM_IDS} entries. */
export type WellKnownVmId = keyof typeof HV_VM_IDS;

/** vsock CIDs with fixed meanings. */
export const VSOCK_CID = {
  /** VMADDR_CID_HYPERVISOR. */
  hypervisor: 0,
  /** VMADDR_CID_LOCAL (loopback; needs the vsock_loopback transport). */
  local: 1,
  /** VMADDR_CID_HOST. */
  host: 2,
  /** Conventionally the first guest (hyperkit, vpnkit). */
  firstGuest: 3,
  /** VMADDR_CID_ANY (-1 as u32). */
  any: 0xffffffff,
} as const;

/** Validates a vsock port: an integer in 0..2^32-1. */
export function checkVsockPort(port: number, input: string = String(port)): Result<number, InvalidAddress> {
  if (!Number.isInteger(port) || port < 0 || port > MAX_VSOCK_PORT) {
    return err(invalidAddress(input, `vsock port must be an integer in 0..${MAX_VSOCK_PORT}`));
  }
  return ok(port);
}

/** The service GUID for a vsock port (`%08x-FACB-11E6-BD58-64006A7986D3`). */
export function serviceIdForPort(port: number): Result<Guid, InvalidAddress> {
  return checkVsockPort(port).map((p) => `${p.toString(16).padStart(8, '0')}${VSOCK_TEMPLATE_SUFFIX}` as Guid);
}

/** True when `g` is a template service GUID (so it maps to a vsock port). */
export function isTemplateServiceId(g: Guid): boolean {
  return g.endsWith(VSOCK_TEMPLATE_SUFFIX);
}

/** The vsock port a template service GUID stands for; Err for other GUIDs. */
export function portForServiceId(g: Guid): Result<number, InvalidAddress> {
  if (!isTemplateServiceId(g)) {
    return err(invalidAddress(g, `not a vsock-port service GUID (want xxxxxxxx${VSOCK_TEMPLATE_SUFFIX}); generic service ids exist only for AF_HYPERV on Windows`));
  }
  return ok(parseInt(g.slice(0, 8), 16));
}

/** Address family values seen in SOCKADDR_HV. */
export const AF_HYPERV = {
  /** Windows SDK `AF_HYPERV`. */
  windows: 34,
  /** The old out-of-tree Linux hv_sock module. */
  linuxLegacy: 43,
} as const;

/** `HV_PROTOCOL_RAW`, the only Hyper-V socket protocol. */
export const HV_PROTOCOL_RAW = 1;

/** Size of SOCKADDR_HV in bytes. */
export const SOCKADDR_HV_SIZE = 36;

/** A decoded SOCKADDR_HV. */
export interface SockaddrHv {
  readonly family: number;
  readonly reserved: number;
  readonly vmId: Guid;
  readonly serviceId: Guid;
}

/** Encodes SOCKADDR_HV: u16 LE family, u16 reserved (0), VmId, ServiceId (Windows GUID order). */
export function encodeSockaddrHv(vmId: Guid, serviceId: Guid, family: number = AF_HYPERV.windows): Uint8Array {
  const out = new Uint8Array(SOCKADDR_HV_SIZE);
  const view = new DataView(out.buffer);
  view.setUint16(0, family, true);
  view.setUint16(2, 0, true);
  out.set(guidToBytes(vmId, 'windows'), 4);
  out.set(guidToBytes(serviceId, 'windows'), 20);
  return out;
}

/** Decodes SOCKADDR_HV; Err when shorter than 36 bytes. Extra trailing bytes are ignored. */
export function decodeSockaddrHv(bytes: Uint8Array): Result<SockaddrHv, InvalidAddress> {
  if (bytes.length < SOCKADDR_HV_SIZE) {
    return err(invalidAddress(`<${bytes.length} bytes>`, `SOCKADDR_HV needs ${SOCKADDR_HV_SIZE} bytes`));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vmId = guidFromBytes(bytes, 'windows', 4);
  const serviceId = guidFromBytes(bytes, 'windows', 20);
  return vmId.andThen((vm) =>
    serviceId.map((svc) => ({ family: view.getUint16(0, true), reserved: view.getUint16(2, true), vmId: vm, serviceId: svc })),
  );
}
