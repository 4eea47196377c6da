/**
 * The port forwarder's control routes, at gvisor-tap-vsock's paths and in its body shapes
 * (cli.md "HTTP control API", `pkg/services/forwarder/ports.go`) so tools written for gvproxy
 * work unchanged:
 *
 * - `POST /services/forwarder/expose` `{"local":"127.0.0.1:2222","remote":"192.168.65.2:22","protocol":"tcp"}`
 * - `POST /services/forwarder/unexpose` `{"local":"127.0.0.1:2222","protocol":"tcp"}`
 * - `GET /services/forwarder/all` → `[{"local":…,"remote":…,"protocol":…}]`
 *
 * `protocol` is `tcp` (default), `udp` or `unix` (then `local` is a host socket path and `remote`
 * `tcp://IP:PORT` as gvproxy writes it, or plain `IP:PORT`). `local` ":2222" (gvproxy's form)
 * listens on 127.0.0.1 — gvproxy would listen on every interface; `0.0.0.0:2222` asks for that
 * explicitly. `remote` ":22" means the only leased guest. An expose body may add
 * `"preserveClientAddress": false` (a JSON boolean, our extension) so the guest sees the gateway
 * instead of each client's address; the list shows that field only on such ports, so default
 * entries keep gvproxy's exact shape. Bodies are validated strictly: unknown fields, a missing
 * field, a field of the wrong type or a malformed address is a 400 naming it.
 *
 * Status codes (gvproxy answers 500 to every failure; vpnkit 400): 400 bad body or address,
 * 403 permission denied, 404 unexpose of something not exposed, 409 host port in use (by another
 * process, or exposed to another guest port), 503 network closed. Exposing the same host end to
 * the same guest end again is 200 (vpnkit's no-op), and the 200 body is the exposed entry with
 * a port 0 resolved.
 * @module
 */
import type { ResultAsync } from 'neverthrow';
import { normaliseHostIp, joinHostPort, type ExposedPort, type ExposeProtocol, type ExposeError, type ExposeErrorKind, type ExposeOptions, type UnexposeKey } from '../forward/expose-spec.js';
import type { RouteHandler, RouteResult } from './http-server.js';

/** What the forwarder routes need from the network (the facade implements it). */
export interface ForwarderControl {
  exposePort(spec: ExposeOptions): ResultAsync<ExposedPort, ExposeError>;
  unexposePort(key: UnexposeKey): ResultAsync<void, ExposeError>;
  listExposed(): ExposedPort[];
}

/** One entry of `GET /services/forwarder/all` (gvproxy's `proxy` JSON). */
export interface ForwardEntry {
  local: string;
  remote: string;
  protocol: ExposeProtocol;
  /** Present (false) only on ports that show the guest the gateway instead of the client. */
  preserveClientAddress?: false;
}

/** Body fields that are JSON booleans; every other field is a string. */
const BOOLEAN_FIELDS: readonly string[] = ['preserveClientAddress'];

/** HTTP status of each expose error. */
export const EXPOSE_ERROR_STATUS: Record<ExposeErrorKind, number> = {
  'bad-address': 400,
  'not-a-guest': 400,
  'no-guest': 400,
  'permission-denied': 403,
  'not-exposed': 404,
  'port-in-use': 409,
  'network-closed': 503,
  'listen-failed': 500,
};

/** A request the caller got wrong, as a 400 answer. */
const badRequest = (message: string): RouteResult => ({ status: 400, body: { error: message } });

/** Parses `IP:PORT`, `[IPv6]:PORT`, `localhost:PORT` or `:PORT` (empty host). */
export function splitHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(s);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Checks that `body` is an object with exactly the allowed keys, and string values except {@link BOOLEAN_FIELDS}. */
function fields(body: unknown, allowed: readonly string[], required: readonly string[]): Record<string, string> | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected ${allowed.join(', ')})`;
  for (const k of required) if (o[k] === undefined) return `missing field "${k}"`;
  for (const [k, v] of Object.entries(o)) {
    if (BOOLEAN_FIELDS.includes(k)) {
      if (typeof v !== 'boolean') return `field "${k}" must be true or false`;
    } else if (typeof v !== 'string') return `field "${k}" must be a string`;
  }
  return o as Record<string, string>;
}

/** `protocol` with gvproxy's default (tcp when absent or empty); undefined when unknown. */
function parseProtocol(p: string | undefined): ExposeProtocol | undefined {
  const v = p === undefined || p === '' ? 'tcp' : p;
  return v === 'tcp' || v === 'udp' || v === 'unix' ? v : undefined;
}

const unknownProtocol = (what: string, p: string | undefined): RouteResult => badRequest(`${what}: unknown protocol ${JSON.stringify(p)} (tcp, udp or unix)`);

/** The host end of `local` for tcp/udp, or an error text. */
function parseLocal(local: string): { hostIp: string; hostPort: number } | string {
  const hp = splitHostPort(local);
  if (hp === undefined) return `"local" must be IP:PORT, [IPv6]:PORT or :PORT, got ${JSON.stringify(local)}`;
  const hostIp = hp.host === '' ? '127.0.0.1' : normaliseHostIp(hp.host);
  if (hostIp === undefined) return `"local" has a bad host address: ${JSON.stringify(hp.host)}`;
  return { hostIp, hostPort: hp.port };
}

/** The guest end of `remote` (`IP:PORT`, `:PORT`; for unix also `tcp://IP:PORT`), or an error text. */
function parseRemote(remote: string, unix: boolean): { guest?: string; guestPort: number } | string {
  let r = remote;
  if (unix) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(r);
    if (scheme !== null) {
      if (scheme[1]!.toLowerCase() !== 'tcp') return `"remote" scheme ${scheme[1]}:// is not supported (only tcp://IP:PORT)`;
      r = r.slice(scheme[0].length);
    }
  }
  const hp = splitHostPort(r);
  if (hp === undefined || hp.port === 0) return `"remote" must be GUEST-IP:PORT or :PORT with a port 1-65535, got ${JSON.stringify(remote)}`;
  return hp.host === '' ? { guestPort: hp.port } : { guest: hp.host, guestPort: hp.port };
}

/** An exposed port in gvproxy's list shape. */
export function toForwardEntry(p: ExposedPort): ForwardEntry {
  const remote = `${p.guestIp}:${p.guestPort}`;
  if (p.protocol === 'unix') return { local: p.hostPath ?? '', remote: `tcp://${remote}`, protocol: 'unix' };
  const e: ForwardEntry = { local: joinHostPort(p.hostIp ?? '', p.hostPort ?? 0), remote, protocol: p.protocol };
  if (p.preserveClientAddress === false) e.preserveClientAddress = false;
  return e;
}

function failed(e: ExposeError): RouteResult {
  return { status: EXPOSE_ERROR_STATUS[e.kind] ?? 500, body: { error: e.message } };
}

/** `POST /services/forwarder/expose`. */
export function exposeRoute(api: ForwarderControl): RouteHandler {
  return async (req) => {
    const f = fields(req.body, ['local', 'remote', 'protocol', 'preserveClientAddress'], ['local', 'remote']);
    if (typeof f === 'string') return badRequest(`expose: ${f}`);
    const preserve = (req.body as { preserveClientAddress?: boolean }).preserveClientAddress;
    const source = preserve !== undefined ? { preserveClientAddress: preserve } : {};
    const protocol = parseProtocol(f.protocol);
    if (protocol === undefined) return unknownProtocol('expose', f.protocol);
    const remote = parseRemote(f.remote!, protocol === 'unix');
    if (typeof remote === 'string') return badRequest(`expose: ${remote}`);
    let spec: ExposeOptions;
    if (protocol === 'unix') {
      if (f.local === '') return badRequest('expose: "local" must be a socket path for protocol unix');
      spec = { ...remote, hostPath: f.local!, protocol, ...source };
    } else {
      const local = parseLocal(f.local!);
      if (typeof local === 'string') return badRequest(`expose: ${local}`);
      spec = { ...remote, ...local, protocol, ...source };
    }
    const r = await api.exposePort(spec);
    return r.isOk() ? { status: 200, body: toForwardEntry(r.value) } : failed(r.error);
  };
}

/** `POST /services/forwarder/unexpose`. */
export function unexposeRoute(api: ForwarderControl): RouteHandler {
  return async (req) => {
    const f = fields(req.body, ['local', 'protocol'], ['local']);
    if (typeof f === 'string') return badRequest(`unexpose: ${f}`);
    const protocol = parseProtocol(f.protocol);
    if (protocol === undefined) return unknownProtocol('unexpose', f.protocol);
    let key: UnexposeKey;
    if (protocol === 'unix') {
      if (f.local === '') return badRequest('unexpose: "local" must be a socket path for protocol unix');
      key = { protocol, hostPath: f.local! };
    } else {
      const local = parseLocal(f.local!);
      if (typeof local === 'string') return badRequest(`unexpose: ${local}`);
      if (local.hostPort === 0) return badRequest('unexpose: "local" needs the port that was exposed, not 0');
      key = { protocol, ...local };
    }
    const r = await api.unexposePort(key);
    return r.isOk() ? { status: 200 } : failed(r.error);
  };
}

/** The forwarder's routes, keyed as the control server expects (`"POST /services/forwarder/expose"`). */
export function forwarderRoutes(api: ForwarderControl): Array<[string, RouteHandler]> {
  return [
    ['POST /services/forwarder/expose', exposeRoute(api)],
    ['POST /services/forwarder/unexpose', unexposeRoute(api)],
    ['GET /services/forwarder/all', () => ({ status: 200, body: api.listExposed().map(toForwardEntry) })],
  ];
}
