/**
 * The HTTP control API of a network (cli.md "HTTP control API"), built from a narrow interface the
 * facade implements, so it runs against a bare {@link PortForwarder} in tests:
 *
 * | method and path | answer |
 * | --- | --- |
 * | `POST /services/forwarder/expose`, `POST /services/forwarder/unexpose`, `GET /services/forwarder/all` | forwarder-routes.ts |
 * | `GET /leases` | `{"192.168.65.2":"5a:94:ef:e4:0c:ee", …}` (gvproxy's shape) |
 * | `GET /leases?verbose=1` | `[{"ip","mac","uuid","hostname","expiresAt"}, …]` sorted by address |
 * | `GET /stats` | the network's counters as `stats()` returns them |
 *
 * Errors are `{"error": message}` with a 4xx status for the caller's mistakes (http-server.ts).
 * @module
 */
import type { ResultAsync } from 'neverthrow';
import type { VnetError } from '../errors.js';
import type { LeaseInfo } from '../forward/expose-spec.js';
import { parseIpv4 } from '../wire/address.js';
import { forwarderRoutes, type ForwarderControl } from './forwarder-routes.js';
import { serveHttp, type ControlServer, type RouteHandler, type Routes } from './http-server.js';

/** What the control API needs from a network; `VirtualNetwork` implements it. */
export interface ControlApi extends ForwarderControl {
  /** Current DHCP leases. */
  leases(): LeaseInfo[];
  /** Counters snapshot (JSON-serialisable). */
  stats(): unknown;
}

/** Orders dotted quads numerically (`.10` after `.9`); anything unparsable last, as text. */
const byAddress = (a: LeaseInfo, b: LeaseInfo): number => (parseIpv4(a.ip) ?? Infinity) - (parseIpv4(b.ip) ?? Infinity) || a.ip.localeCompare(b.ip);

/** `GET /leases`: gvproxy's `{ip: mac}` map, or the full records with `?verbose=1`. */
function leasesRoute(api: ControlApi): RouteHandler {
  return (req) => {
    const v = req.query.get('verbose');
    if (v !== null && !['', '0', '1', 'true', 'false'].includes(v)) return { status: 400, body: { error: `verbose must be 1 or 0, got ${JSON.stringify(v)}` } };
    const leases = [...api.leases()].sort(byAddress);
    if (v === '1' || v === 'true' || v === '') {
      return {
        status: 200,
        body: leases.map((l) => ({
          ip: l.ip,
          mac: l.mac,
          ...(l.uuid !== undefined ? { uuid: l.uuid } : {}),
          ...(l.hostname !== undefined ? { hostname: l.hostname } : {}),
          expiresAt: l.expiresAt,
        })),
      };
    }
    const map: Record<string, string> = {};
    for (const l of leases) map[l.ip] = l.mac;
    return { status: 200, body: map };
  };
}

/**
 * Every control route of a network. `more` mounts other services' routes beside them (e.g.
 * `hostInterfaceRoutes(...)`); a later route with the same method and path replaces an earlier one.
 */
export function controlRoutes(api: ControlApi, more: Iterable<[string, RouteHandler]> = []): Routes {
  return new Map<string, RouteHandler>([
    ...forwarderRoutes(api),
    ['GET /leases', leasesRoute(api)],
    ['GET /stats', () => ({ status: 200, body: api.stats() })],
    ...more,
  ]);
}

/** Serves the control API of `api` (plus `more` routes) on a Unix socket at `path` (a stale socket file is replaced). */
export function serveControl(path: string, api: ControlApi, more: Iterable<[string, RouteHandler]> = []): ResultAsync<ControlServer, VnetError<'listen-failed'>> {
  return serveHttp(path, controlRoutes(api, more));
}
