/**
 * vpnkit-style transport URIs → typed addresses (protocols.md §2.2):
 *
 * | URI | address |
 * | --- | --- |
 * | `hyperv-connect://<vmid>[/<serviceid>]` | AF_HYPERV, we connect to the VM |
 * | `hyperv-listen://<vmid>[/<serviceid>]` | AF_HYPERV, we listen, the VM connects |
 * | `hvsock://<vmid>/<serviceid>` | AF_HYPERV (ocaml-hvsock form) |
 * | `vsock://[CID]:PORT` | AF_VSOCK; no CID = VMADDR_CID_ANY |
 * | `hyperkit://[CID]:PORT/<dir>` | hyperkit virtio-sock files (§2.4); CID = guest CID, default 3 |
 * | `hybrid-vsock://:PORT/<uds path>` | Firecracker/cloud-hypervisor hybrid vsock (§2.6); vnetkit's own scheme |
 * | `unix:<path>`, `unix://<path>`, `/<path>` | a plain Unix socket |
 *
 * A service id may be a GUID or a decimal vsock port (mapped through the template). The VM
 * id must be a GUID or a well-known name (`wildcard`, `children`, `loopback`, `parent`,
 * `broadcast`); VM *names* would need a Windows lookup and are refused.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { HV_VM_IDS, LEGACY_SERVICE_IDS, MAX_VSOCK_PORT, serviceIdForPort, VSOCK_CID, type WellKnownVmId } from './addressing.js';
import { invalidAddress, type InvalidAddress } from './errors.js';
import { parseGuid, type Guid } from './guid.js';

/** A transport endpoint, independent of which side connects. */
export type VsockAddress =
  | { readonly transport: 'hyperv'; readonly vmId: Guid; readonly serviceId: Guid }
  | { readonly transport: 'vsock'; readonly cid: number; readonly port: number }
  | { readonly transport: 'hyperkit'; readonly dir: string; readonly cid: number; readonly port: number }
  | { readonly transport: 'hybrid'; readonly udsPath: string; readonly port: number }
  | { readonly transport: 'unix'; readonly path: string };

/** A parsed URI; `mode` is set only where the scheme says who connects (hyperv-connect/-listen). */
export interface ParsedVsockUri {
  readonly address: VsockAddress;
  readonly mode?: 'connect' | 'listen';
}

/** Options for {@link parseVsockUri}. */
export interface ParseOptions {
  /** Service used when a hyperv-* URI has none; default the legacy ethernet GUID (vpnkit `--ethernet`). */
  readonly defaultServiceId?: Guid;
}

const SCHEMES = 'hyperv-connect://, hyperv-listen://, hvsock://, vsock://, hyperkit://, hybrid-vsock://, unix:';

function parseU32(text: string, what: string, input: string): Result<number, InvalidAddress> {
  if (!/^[0-9]{1,10}$/.test(text)) return err(invalidAddress(input, `${what} '${text}' is not a decimal number`));
  const n = Number(text);
  if (n > MAX_VSOCK_PORT) return err(invalidAddress(input, `${what} ${n} is out of range 0..${MAX_VSOCK_PORT}`));
  return ok(n);
}

function parseVmId(text: string, input: string): Result<Guid, InvalidAddress> {
  const known = HV_VM_IDS[text.toLowerCase() as WellKnownVmId];
  if (known !== undefined) return ok(known);
  return parseGuid(text).mapErr(() =>
    invalidAddress(input, `VM id '${text}' is not a GUID or one of ${Object.keys(HV_VM_IDS).join(', ')} (VM names need a Windows lookup and are not supported)`),
  );
}

function parseServiceId(text: string, input: string): Result<Guid, InvalidAddress> {
  if (/^[0-9]+$/.test(text)) return parseU32(text, 'service port', input).andThen(serviceIdForPort);
  return parseGuid(text).mapErr(() => invalidAddress(input, `service id '${text}' is not a GUID or a decimal vsock port`));
}

function parseHyperv(rest: string, input: string, requireService: boolean, options: ParseOptions): Result<VsockAddress, InvalidAddress> {
  const slash = rest.indexOf('/');
  const vmText = slash < 0 ? rest : rest.slice(0, slash);
  const svcText = slash < 0 ? '' : rest.slice(slash + 1);
  if (vmText === '') return err(invalidAddress(input, 'missing VM id'));
  if (svcText.includes('/')) return err(invalidAddress(input, 'unexpected path after the service id'));
  if (svcText === '' && requireService) return err(invalidAddress(input, 'missing service id'));
  return parseVmId(vmText, input).andThen((vmId) => {
    if (svcText === '') return ok({ transport: 'hyperv' as const, vmId, serviceId: options.defaultServiceId ?? LEGACY_SERVICE_IDS.ethernet });
    return parseServiceId(svcText, input).map((serviceId) => ({ transport: 'hyperv' as const, vmId, serviceId }));
  });
}

/** Splits `[CID]:PORT[/path]` into its parts. */
function splitCidPort(rest: string, input: string): Result<{ cid: string; port: string; path: string }, InvalidAddress> {
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return err(invalidAddress(input, 'expected [CID]:PORT'));
  return ok({ cid: authority.slice(0, colon), port: authority.slice(colon + 1), path });
}

function parseVsock(rest: string, input: string): Result<VsockAddress, InvalidAddress> {
  return splitCidPort(rest, input).andThen(({ cid, port, path }) => {
    if (path !== '' && path !== '/') return err(invalidAddress(input, 'vsock:// takes no path'));
    const cidR = cid === '' ? ok<number, InvalidAddress>(VSOCK_CID.any) : parseU32(cid, 'CID', input);
    return cidR.andThen((c) => parseU32(port, 'port', input).map((p) => ({ transport: 'vsock' as const, cid: c, port: p })));
  });
}

function parseHyperkit(rest: string, input: string): Result<VsockAddress, InvalidAddress> {
  return splitCidPort(rest, input).andThen(({ cid, port, path }) => {
    if (path.length < 2) return err(invalidAddress(input, 'missing the hyperkit vsock directory (hyperkit://:PORT/<dir>)'));
    const cidR = cid === '' ? ok<number, InvalidAddress>(VSOCK_CID.firstGuest) : parseU32(cid, 'CID', input);
    return cidR.andThen((c) => parseU32(port, 'port', input).map((p) => ({ transport: 'hyperkit' as const, dir: path, cid: c, port: p })));
  });
}

function parseHybrid(rest: string, input: string): Result<VsockAddress, InvalidAddress> {
  return splitCidPort(rest, input).andThen(({ cid, port, path }) => {
    if (cid !== '') return err(invalidAddress(input, 'hybrid vsock carries no CID (hybrid-vsock://:PORT/<uds path>)'));
    if (path.length < 2) return err(invalidAddress(input, 'missing the VMM socket path (hybrid-vsock://:PORT/<uds path>)'));
    return parseU32(port, 'port', input).map((p) => ({ transport: 'hybrid' as const, udsPath: path, port: p }));
  });
}

/** Parses a transport URI (see module docs). Unknown schemes and bad parts are `invalid-address`. */
export function parseVsockUri(input: string, options: ParseOptions = {}): Result<ParsedVsockUri, InvalidAddress> {
  const lower = input.toLowerCase();
  const after = (prefix: string): string => input.slice(prefix.length);
  if (lower.startsWith('hyperv-connect://')) return parseHyperv(after('hyperv-connect://'), input, false, options).map((address) => ({ address, mode: 'connect' as const }));
  if (lower.startsWith('hyperv-listen://')) return parseHyperv(after('hyperv-listen://'), input, false, options).map((address) => ({ address, mode: 'listen' as const }));
  if (lower.startsWith('hvsock://')) return parseHyperv(after('hvsock://'), input, true, options).map((address) => ({ address }));
  if (lower.startsWith('vsock://')) return parseVsock(after('vsock://'), input).map((address) => ({ address }));
  if (lower.startsWith('hyperkit://')) return parseHyperkit(after('hyperkit://'), input).map((address) => ({ address }));
  if (lower.startsWith('hybrid-vsock://')) return parseHybrid(after('hybrid-vsock://'), input).map((address) => ({ address }));
  let path: string | undefined;
  if (lower.startsWith('unix://')) path = after('unix://');
  else if (lower.startsWith('unix:')) path = after('unix:');
  else if (input.startsWith('/')) path = input;
  if (path !== undefined) {
    if (path === '') return err(invalidAddress(input, 'empty Unix socket path'));
    if (path.includes('\0')) return err(invalidAddress(input, 'NUL in Unix socket path'));
    return ok({ address: { transport: 'unix', path } });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1];
  return err(invalidAddress(input, scheme ? `unknown scheme '${scheme}' (supported: ${SCHEMES})` : `not a transport URI (supported: ${SCHEMES})`));
}

/** Formats an address back into a URI that {@link parseVsockUri} reads as the same address. */
export function formatVsockUri(a: VsockAddress, mode?: 'connect' | 'listen'): string {
  switch (a.transport) {
    case 'hyperv':
      return `${mode === undefined ? 'hvsock' : `hyperv-${mode}`}://${a.vmId}/${a.serviceId}`;
    case 'vsock':
      return `vsock://${a.cid === VSOCK_CID.any ? '' : a.cid}:${a.port}`;
    case 'hyperkit':
      return `hyperkit://${a.cid}:${a.port}${a.dir}`;
    case 'hybrid':
      return `hybrid-vsock://:${a.port}${a.udsPath}`;
    case 'unix':
      return `unix:${a.path}`;
  }
}
