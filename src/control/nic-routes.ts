/**
 * Control routes for NICs: list them, and condition one at runtime
 * (`POST /nics/{id}/condition` with a conditioning spec or `null`, `GET` for what it did).
 * @module
 */
import type { Nic, NicStats } from '../nic.js';
import type { RouteHandler, RouteRequest } from './http-server.js';

/** What the routes need from a network. */
export interface NicControl {
  nic(id: number): Nic | undefined;
  allNics(): Nic[];
  nicStats(): NicStats[];
}

/** The id in `/nics/{id}/condition`, or undefined. */
function idOf(req: Pick<RouteRequest, 'path'>): number | undefined {
  const m = /^\/nics\/(\d+)\/condition\/?$/.exec(req.path);
  return m === null ? undefined : Number(m[1]);
}

/** `GET /nics`, `GET|POST /nics/{id}/condition`. */
export function nicRoutes(api: NicControl): Array<[string, RouteHandler]> {
  const find = (req: RouteRequest): Nic | { status: number; body: unknown } => {
    const id = idOf(req);
    if (id === undefined) return { status: 404, body: { error: `no such path: ${req.path}` } };
    const nic = api.nic(id);
    return nic ?? { status: 404, body: { error: `no NIC with id ${id}` } };
  };
  return [
    ['GET /nics', () => ({ status: 200, body: api.nicStats() })],
    [
      'GET /nics/*/condition',
      (req) => {
        const nic = find(req);
        return 'status' in nic ? nic : { status: 200, body: nic.conditionStats() };
      },
    ],
    [
      'POST /nics/*/condition',
      (req) => {
        const nic = find(req);
        if ('status' in nic) return nic;
        if (req.body !== null && (typeof req.body !== 'object' || Array.isArray(req.body)))
          return { status: 400, body: { error: 'body must be a conditioning spec object, or null to remove conditioning' } };
        const r = nic.condition(req.body as Parameters<Nic['condition']>[0]);
        if (r.isErr()) return { status: r.error.kind === 'nic-detached' ? 409 : 400, body: { error: r.error.message } };
        return { status: 200, body: nic.conditionStats() };
      },
    ],
  ];
}
