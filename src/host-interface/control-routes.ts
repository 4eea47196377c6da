/**
 * Control API routes for the host interface (mounted by the facade next to control/routes.ts):
 *
 * | method and path | body / answer |
 * | --- | --- |
 * | `POST /host-interface` | `{"name":"vnk0","address":"192.168.65.3/24","mac"?:…,"mtu"?:1500,"routes"?:["10.88.0.0/16 via 192.168.65.2"]}` → 201 and the interface |
 * | `GET /host-interface` | `[{name,address,mac,mtu,routes,reservedFromPool,framesIn,…}]` (empty or one entry) |
 * | `DELETE /host-interface/NAME` | 200 `{}`; 404 when there is no such interface |
 * | `DELETE /host-interface?name=NAME` | the same, for a route table without path parameters |
 *
 * Status per error kind: {@link HOST_INTERFACE_ERROR_STATUS}. Bodies are validated strictly:
 * unknown fields and wrong types are a 400 naming the field.
 * @module
 */
import type { ResultAsync } from 'neverthrow';
import type { RouteHandler, RouteRequest, RouteResult } from '../control/http-server.js';
import type { HostInterfaceError, HostInterfaceErrorKind } from './host-interface-errors.js';
import {
  attachHostInterface,
  detachHostInterface,
  hostInterfaceOf,
  type HostInterface,
  type HostInterfaceEnv,
  type HostInterfaceInfo,
  type HostInterfaceNetwork,
} from './host-interface.js';
import type { HostInterfaceSpec } from './spec.js';

/** What the routes need (the facade implements it, or use {@link hostInterfaceControl}). */
export interface HostInterfaceControl {
  attachHostInterface(spec: HostInterfaceSpec): ResultAsync<HostInterface, HostInterfaceError>;
  detachHostInterface(name: string): ResultAsync<void, HostInterfaceError>;
  hostInterfaces(): HostInterfaceInfo[];
}

/** HTTP status of each error kind: the caller's mistakes 4xx, what this host cannot do 501/503. */
export const HOST_INTERFACE_ERROR_STATUS: Record<HostInterfaceErrorKind, number> = {
  'bad-name': 400,
  'bad-address': 400,
  'bad-mac': 400,
  'bad-mtu': 400,
  'bad-route': 400,
  'not-permitted': 403,
  'not-found': 404,
  'interface-exists': 409,
  'already-attached': 409,
  'address-in-use': 409,
  'subnet-conflict': 409,
  'unsupported-platform': 501,
  'native-unavailable': 503,
  'tun-unavailable': 503,
  'ip-unavailable': 503,
  'network-closed': 503,
  'config-failed': 500,
};

const badRequest = (message: string): RouteResult => ({ status: 400, body: { error: message } });
const failed = (e: HostInterfaceError): RouteResult => ({ status: HOST_INTERFACE_ERROR_STATUS[e.kind] ?? 500, body: { error: e.message, kind: e.kind } });

const FIELDS = ['name', 'address', 'mac', 'mtu', 'routes'] as const;

/** Reads a `POST /host-interface` body into a spec, or says what is wrong with it. */
export function specFromBody(body: unknown): HostInterfaceSpec | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected ${FIELDS.join(', ')})`;
  for (const k of ['name', 'address'] as const) {
    if (o[k] === undefined) return `missing field "${k}"`;
    if (typeof o[k] !== 'string') return `field "${k}" must be a string`;
  }
  if (o['mac'] !== undefined && typeof o['mac'] !== 'string') return 'field "mac" must be a string';
  if (o['mtu'] !== undefined && typeof o['mtu'] !== 'number') return 'field "mtu" must be a number';
  const routes = o['routes'];
  if (routes !== undefined && (!Array.isArray(routes) || routes.some((r) => typeof r !== 'string'))) return 'field "routes" must be an array of "CIDR via IP" strings';
  return {
    name: o['name'] as string,
    address: o['address'] as string,
    ...(o['mac'] !== undefined ? { mac: o['mac'] as string } : {}),
    ...(o['mtu'] !== undefined ? { mtu: o['mtu'] as number } : {}),
    ...(routes !== undefined ? { routes: routes as string[] } : {}),
  };
}

/** `POST /host-interface`. */
export function attachRoute(api: HostInterfaceControl): RouteHandler {
  return async (req) => {
    const spec = specFromBody(req.body);
    if (typeof spec === 'string') return badRequest(`host-interface: ${spec}`);
    const r = await api.attachHostInterface(spec);
    return r.isOk() ? { status: 201, body: r.value.info() } : failed(r.error);
  };
}

/** The interface name of `DELETE /host-interface/NAME` or `DELETE /host-interface?name=NAME`. */
export function nameFromRequest(req: Pick<RouteRequest, 'path' | 'query'>): string | undefined {
  const m = /^\/host-interface\/([^/]+)\/?$/.exec(req.path);
  if (m !== null) {
    try {
      return decodeURIComponent(m[1]!);
    } catch {
      return undefined;
    }
  }
  return req.query.get('name') ?? undefined;
}

/** `DELETE /host-interface/NAME` (and `?name=NAME`). */
export function detachRoute(api: HostInterfaceControl): RouteHandler {
  return async (req) => {
    const name = nameFromRequest(req);
    if (name === undefined || name === '') return badRequest('host-interface: give the name as DELETE /host-interface/NAME');
    const r = await api.detachHostInterface(name);
    return r.isOk() ? { status: 200, body: {} } : failed(r.error);
  };
}

/**
 * The routes, keyed as the control server's table expects. `DELETE /host-interface/*` needs the
 * server to fall back to a `…/*` key when no exact key matches (control/http-server.ts matches
 * exact keys today); `DELETE /host-interface?name=` works without that.
 */
export function hostInterfaceRoutes(api: HostInterfaceControl): Array<[string, RouteHandler]> {
  const detach = detachRoute(api);
  return [
    ['POST /host-interface', attachRoute(api)],
    ['GET /host-interface', () => ({ status: 200, body: api.hostInterfaces() })],
    ['DELETE /host-interface', detach],
    ['DELETE /host-interface/*', detach],
  ];
}

/** A {@link HostInterfaceControl} over a network object, for a facade that delegates. */
export function hostInterfaceControl(net: HostInterfaceNetwork, env: HostInterfaceEnv = {}): HostInterfaceControl {
  return {
    attachHostInterface: (spec) => attachHostInterface(net, spec, env),
    detachHostInterface: (name) => detachHostInterface(net, name),
    hostInterfaces: () => {
      const hi = hostInterfaceOf(net);
      return hi === undefined ? [] : [hi.info()];
    },
  };
}
