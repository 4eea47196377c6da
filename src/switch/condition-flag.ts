/**
 * The `--condition` flag: which NICs, and what to do to their traffic, in one word.
 *
 *     --condition SELECTOR:SETTING[,SETTING…]
 *
 * SELECTOR is `*` (every NIC, including those that attach later), a MAC (`02:00:00:00:0a:01`)
 * or a vmnet UUID. A SETTING is `KEY=VALUE`, or `down` alone:
 *
 * | key | value | spec field |
 * | --- | --- | --- |
 * | `latency` | duration: `100ms`, `1.5s`, `250us` (bare number = ms) | `latencyMs` |
 * | `jitter` | duration | `jitterMs` |
 * | `loss` | `10%` (bare number = percent) | `lossPct` |
 * | `rate` | `50mbit`, `512kbit`, `1gbit`, `64000bit` (bits per second) | `rateMbit` |
 * | `queue` | bytes: `256kib`, `1mib`, `64kb`, `1500` (bare = bytes) | `queueBytes` |
 * | `burst` | bytes | `burstBytes` |
 * | `down` | nothing, or `true`/`false` | `down` |
 * | `seed` | unsigned 32-bit integer | `seed` |
 *
 * `to-nic.` or `from-nic.` before latency, jitter, loss, rate, queue or burst sets one direction only
 * (`from-nic.rate=10mbit`: a 10 Mbit/s uplink). Units are tc's for rates — `bit` suffixes are
 * bits; byte rates (`mbps`, which tc reads as megabytes) are refused rather than guessed.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../errors.js';
import { validateCondition, type ConditionParams, type ConditionSpec } from './condition-spec.js';

/** Which NICs a `--condition` applies to. */
export type NicSelector = { kind: 'all' } | { kind: 'mac'; mac: string } | { kind: 'uuid'; uuid: string };

/** One parsed `--condition` value. */
export interface ConditionRule {
  selector: NicSelector;
  spec: ConditionSpec;
}

/** A bad `--condition` value; the same shape as the CLI's other flag errors. */
export type ConditionFlagError = VnetError<'bad-flag'> & { flag: '--condition' };

const FLAG = '--condition' as const;
const bad = (message: string): Result<never, ConditionFlagError> => err(vnetError('bad-flag', `${FLAG}: ${message}`, { flag: FLAG }));

const MAC_RE = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const NUM = '(\\d+(?:\\.\\d+)?|\\.\\d+)';

const DURATION_MS: Record<string, number> = { '': 1, us: 0.001, ms: 1, s: 1000 };
const RATE_MBIT: Record<string, number> = { bit: 1e-6, kbit: 1e-3, mbit: 1, gbit: 1000 };
const SIZE_BYTES: Record<string, number> = { '': 1, b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1 << 20 };

/** `VALUE` = number + unit from `table` (case-insensitive); undefined when it is not one. */
function withUnit(v: string, table: Record<string, number>): number | undefined {
  const m = new RegExp(`^${NUM}([a-z]*)$`, 'i').exec(v.trim());
  if (m === null) return undefined;
  const k = table[m[2]!.toLowerCase()];
  return k === undefined ? undefined : Number(m[1]) * k;
}

type ParamKey = keyof ConditionParams;

const PARAM_NAMES: readonly string[] = ['latency', 'jitter', 'loss', 'rate', 'queue', 'burst'];

const CLI_KEY: Record<string, string> = {
  latencyMs: 'latency',
  jitterMs: 'jitter',
  lossPct: 'loss',
  rateMbit: 'rate',
  queueBytes: 'queue',
  burstBytes: 'burst',
  toNic: 'to-nic',
  fromNic: 'from-nic',
};

/** A spec field path (`toNic.lossPct`) as the flag spells it (`to-nic.loss`). */
function cliName(field: string): string {
  return field
    .split('.')
    .map((p) => CLI_KEY[p] ?? p)
    .join('.');
}

/** Parses one setting's value into its spec field and number. */
function parseValue(key: string, v: string): Result<[ParamKey, number], string> {
  switch (key) {
    case 'latency':
    case 'jitter': {
      const ms = withUnit(v, DURATION_MS);
      if (ms === undefined) return err(`${key}: expected a duration like 100ms, 1.5s or 250us, got "${v}"`);
      return ok([key === 'latency' ? 'latencyMs' : 'jitterMs', ms]);
    }
    case 'loss': {
      const m = new RegExp(`^${NUM}%?$`).exec(v.trim());
      if (m === null) return err(`loss: expected a percentage like 10% or 0.5%, got "${v}"`);
      return ok(['lossPct', Number(m[1])]);
    }
    case 'rate': {
      if (/bps$/i.test(v.trim())) return err(`rate: "${v}" is a byte rate; write bits, e.g. 50mbit`);
      const mbit = withUnit(v, RATE_MBIT);
      if (mbit === undefined) return err(`rate: expected bits per second like 50mbit, 512kbit or 1gbit, got "${v}"`);
      return ok(['rateMbit', mbit]);
    }
    case 'queue':
    case 'burst': {
      const bytes = withUnit(v, SIZE_BYTES);
      if (bytes === undefined || !Number.isInteger(bytes)) return err(`${key}: expected a whole number of bytes like 256kib, 1mib or 65536, got "${v}"`);
      return ok([key === 'queue' ? 'queueBytes' : 'burstBytes', bytes]);
    }
    default:
      return err(`unknown setting "${key}"`);
  }
}

function parseSelector(s: string): { selector: NicSelector; rest: string } | undefined {
  if (s.startsWith('*')) return { selector: { kind: 'all' }, rest: s.slice(1) };
  const u = UUID_RE.exec(s);
  if (u !== null) return { selector: { kind: 'uuid', uuid: u[0].toLowerCase() }, rest: s.slice(u[0].length) };
  const m = MAC_RE.exec(s);
  if (m !== null) return { selector: { kind: 'mac', mac: m[0].toLowerCase() }, rest: s.slice(m[0].length) };
  return undefined;
}

/**
 * Parses `SELECTOR:SETTING[,SETTING…]` (see the module comment) and checks the result like any
 * other spec. Every error names the flag and the offending setting in one line.
 */
export function parseConditionSpec(s: string): Result<ConditionRule, ConditionFlagError> {
  const sel = parseSelector(s);
  if (sel === undefined || !sel.rest.startsWith(':'))
    return bad(`expected SELECTOR:SETTINGS where SELECTOR is *, a MAC or a UUID (e.g. *:latency=100ms,loss=1%), got "${s}"`);
  const body = sel.rest.slice(1);
  if (body.trim() === '') return bad(`no settings after "${s}" (e.g. latency=100ms,loss=1%,rate=50mbit)`);
  const raw: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const item of body.split(',')) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    if (key === '') return bad(`empty setting in "${body}"`);
    if (seen.has(key)) return bad(`${key} given twice`);
    seen.add(key);
    if (key === 'down') {
      if (value === undefined || /^(true|1|yes|on)$/i.test(value.trim())) raw.down = true;
      else if (/^(false|0|no|off)$/i.test(value.trim())) raw.down = false;
      else return bad(`down: expected nothing, true or false, got "${value}"`);
      continue;
    }
    const dot = /^(to-nic|from-nic)\.(.+)$/.exec(key);
    const base = dot === null ? key : dot[2]!;
    if (key !== 'seed' && !PARAM_NAMES.includes(base)) {
      if (dot !== null && (base === 'down' || base === 'seed')) return bad(`${key}: ${base} applies to both directions; only ${PARAM_NAMES.join(', ')} can be set per direction`);
      return bad(`unknown setting "${key}" (known: ${PARAM_NAMES.join(', ')}, down, seed, and to-nic./from-nic. before the first six)`);
    }
    if (value === undefined) return bad(`${key}: expected ${key}=VALUE`);
    if (key === 'seed') {
      if (!/^\d+$/.test(value.trim())) return bad(`seed: expected an unsigned integer, got "${value}"`);
      raw.seed = Number(value.trim());
      continue;
    }
    const p = parseValue(base, value);
    if (p.isErr()) return bad(p.error);
    const [field, n] = p.value;
    if (dot === null) raw[field] = n;
    else {
      const dir = dot[1] === 'to-nic' ? 'toNic' : 'fromNic';
      ((raw[dir] ??= {}) as Record<string, number>)[field] = n;
    }
  }
  const v = validateCondition(raw);
  if (v.isErr()) return bad(`${cliName(v.error.field)}: ${v.error.message.replace(/^condition: [^:]*: /, '')}`);
  return ok({ selector: sel.selector, spec: v.value });
}

/** Whether a NIC (its MAC as `aa:bb:…` once known, its vmnet UUID if any) is selected. */
export function selectsNic(sel: NicSelector, nic: { mac?: string | undefined; uuid?: string | undefined }): boolean {
  switch (sel.kind) {
    case 'all':
      return true;
    case 'mac':
      return nic.mac !== undefined && nic.mac.toLowerCase() === sel.mac;
    case 'uuid':
      return nic.uuid !== undefined && nic.uuid.toLowerCase() === sel.uuid;
  }
}
