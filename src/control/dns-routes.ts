/**
 * Control routes of the gateway's DNS: its state (`GET /services/dns`), its local records
 * (`GET|POST|DELETE /services/dns/records`), and re-reading the host's resolv.conf on demand
 * (`POST /services/dns/reload`).
 * @module
 */
import type { DnsService, UserRecord, UserRecordType } from '../services/dns/index.js';
import type { RouteHandler } from './http-server.js';

const TYPES: readonly UserRecordType[] = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'PTR'];

function recordOf(body: unknown): UserRecord | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body must be {"name","type","data"[,"ttl"]}';
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['name', 'type', 'data', 'ttl'].includes(k)) return `unknown field ${JSON.stringify(k)}`;
  if (typeof b.name !== 'string' || b.name === '') return 'name must be a non-empty string';
  if (typeof b.type !== 'string' || !TYPES.includes(b.type as UserRecordType)) return `type must be one of ${TYPES.join(', ')}`;
  if (b.data === undefined) return 'data is required';
  if (b.ttl !== undefined && (typeof b.ttl !== 'number' || !Number.isInteger(b.ttl) || b.ttl < 0)) return 'ttl must be a non-negative integer';
  // The data's shape per type is checked by LocalRecords.addRecord.
  return { name: b.name, type: b.type, data: b.data, ...(b.ttl !== undefined ? { ttl: b.ttl } : {}) } as UserRecord;
}

/** The DNS routes of a network whose DNS service is `dns()`. */
export function dnsRoutes(dns: () => DnsService): Array<[string, RouteHandler]> {
  return [
    ['GET /services/dns', () => ({ status: 200, body: { describe: dns().describe(), ...dns().stats() } })],
    ['GET /services/dns/records', () => ({ status: 200, body: dns().records.list() })],
    [
      'POST /services/dns/records',
      (req) => {
        const rec = recordOf(req.body);
        if (typeof rec === 'string') return { status: 400, body: { error: rec } };
        const r = dns().records.addRecord(rec);
        return r.isErr() ? { status: 400, body: { error: r.error.message } } : { status: 200, body: rec };
      },
    ],
    [
      'DELETE /services/dns/records',
      (req) => {
        const name = req.query.get('name');
        const type = req.query.get('type');
        if (name === null || type === null || !TYPES.includes(type as UserRecordType)) return { status: 400, body: { error: `give ?name=NAME&type=${TYPES.join('|')}` } };
        const r = dns().records.removeRecord(name, type as UserRecordType);
        if (r.isErr()) return { status: 400, body: { error: r.error.message } };
        return r.value === 0 ? { status: 404, body: { error: `no ${type} record for ${name}` } } : { status: 200, body: { removed: r.value } };
      },
    ],
    ['POST /services/dns/reload', () => ({ status: 200, body: { warnings: dns().reloadResolvConf() } })],
  ];
}
