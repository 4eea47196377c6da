/**
 * What a NIC's network conditioning asks for ({@link ConditionSpec}), how it is checked, and the
 * per-direction settings the pipes run on ({@link ResolvedCondition}).
 *
 * Every impairment applies to each direction separately, like a full-duplex link whose two
 * halves have the same properties: `latencyMs: 50` adds 50 ms toward the NIC *and* 50 ms from it,
 * so a ping round trip grows by 100 ms; `lossPct: 10` drops 10 % each way, so about 19 % of
 * pings fail (1 − 0.9²). `toNic`/`fromNic` override a field for one direction.
 *
 * The spec arrives from three places — the SDK, the CLI (`condition-flag.ts`) and the control
 * API's JSON body — so {@link validateCondition} takes `unknown` and names the bad field.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../errors.js';

/** Impairments of one direction. Absent fields mean "no impairment". */
export interface ConditionParams {
  /** Delay added to every frame, in ms (one way). */
  latencyMs?: number;
  /**
   * Each frame's delay is drawn uniformly from `latencyMs ± jitterMs` (clamped at 0). Frames
   * with jitter are released by their own deadline, so they can be reordered, like netem.
   */
  jitterMs?: number;
  /** Percentage of frames dropped at random, 0–100. */
  lossPct?: number;
  /**
   * Bandwidth cap in Mbit/s (10⁶ bits), counting Ethernet frame bytes (header included): a token
   * bucket filled at this rate; frames wait in order for their tokens.
   */
  rateMbit?: number;
  /**
   * Bytes allowed to wait for the capped link; a frame that would push the backlog past it is
   * dropped, as a router's interface queue does. Needs `rateMbit`. Default: the larger of
   * 64 KiB, two largest frames and 100 ms at the rate.
   */
  queueBytes?: number;
  /**
   * Depth of the token bucket: how many bytes an idle link may send back to back before pacing
   * starts (tbf's `burst`). It also lets the link catch up after the process was descheduled for
   * a few milliseconds, which would otherwise be link time lost. Needs `rateMbit`. Default: the
   * larger of one largest frame and 10 ms at the rate; 0 paces every frame strictly.
   */
  burstBytes?: number;
}

/** The conditioning of one NIC, as `nic.condition(spec)` takes it. */
export interface ConditionSpec extends ConditionParams {
  /** A partition: every frame both ways is dropped (and what was held is lost) until lifted. */
  down?: boolean;
  /** Seeds the loss and jitter draws (an unsigned 32-bit integer) so a run replays exactly. */
  seed?: number;
  /** Overrides for frames going to the NIC (the guest's downlink). */
  toNic?: ConditionParams;
  /** Overrides for frames coming from the NIC (the guest's uplink). */
  fromNic?: ConditionParams;
}

/** One direction's settings, every field present (0 = off). */
export interface ResolvedDirection {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly lossPct: number;
  readonly rateMbit: number;
  /** Backlog bound in bytes (meaningful only with a rate). */
  readonly queueBytes: number;
  /** Token bucket depth in bytes (meaningful only with a rate). */
  readonly burstBytes: number;
}

/** A checked spec, ready for the pipes. */
export interface ResolvedCondition {
  /** The spec as validated (a copy holding only the given fields). */
  readonly spec: ConditionSpec;
  readonly down: boolean;
  readonly seed: number | undefined;
  readonly toNic: ResolvedDirection;
  readonly fromNic: ResolvedDirection;
}

/** A spec that cannot be applied; `field` names it as the caller wrote it (`toNic.lossPct`). */
export type ConditionError = VnetError<'invalid-condition'> & { field: string };

/** Longest delay accepted: conditioning models links, and a minute already outlives most TCP timers. */
export const MAX_DELAY_MS = 60_000;
/** Slowest and fastest caps accepted, in Mbit/s (1 kbit/s keeps serialisation times sane). */
export const MIN_RATE_MBIT = 0.001;
/** Fastest cap accepted, in Mbit/s. */
export const MAX_RATE_MBIT = 100_000;
/** Most bytes one direction may hold at once (delay line and rate backlog together). */
export const MAX_HELD_BYTES = 32 * 1024 * 1024;
/** Most frames one direction may hold at once. */
export const MAX_HELD_FRAMES = 1 << 17;

const PARAM_KEYS = ['latencyMs', 'jitterMs', 'lossPct', 'rateMbit', 'queueBytes', 'burstBytes'] as const;
const SPEC_KEYS: readonly string[] = [...PARAM_KEYS, 'down', 'seed', 'toNic', 'fromNic'];

const bad = (field: string, message: string): Result<never, ConditionError> =>
  err(vnetError('invalid-condition', `condition: ${field}: ${message}`, { field }));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkParams(v: Record<string, unknown>, prefix: string, allowed: readonly string[]): Result<ConditionParams, ConditionError> {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) return bad(prefix + k, `unknown field (known: ${allowed.join(', ')})`);
  const out: ConditionParams = {};
  for (const k of PARAM_KEYS) {
    const x = v[k];
    if (x === undefined) continue;
    const f = prefix + k;
    if (typeof x !== 'number' || !Number.isFinite(x)) return bad(f, `expected a finite number, got ${JSON.stringify(x)}`);
    if (x < 0) return bad(f, `must not be negative, got ${x}`);
    if ((k === 'latencyMs' || k === 'jitterMs') && x > MAX_DELAY_MS) return bad(f, `at most ${MAX_DELAY_MS} ms, got ${x}`);
    if (k === 'lossPct' && x > 100) return bad(f, `a percentage, at most 100, got ${x}`);
    if (k === 'rateMbit' && (x < MIN_RATE_MBIT || x > MAX_RATE_MBIT))
      return bad(f, `between ${MIN_RATE_MBIT} and ${MAX_RATE_MBIT} Mbit/s, got ${x} (to stop traffic use down: true)`);
    if ((k === 'queueBytes' || k === 'burstBytes') && (!Number.isInteger(x) || x > MAX_HELD_BYTES))
      return bad(f, `an integer number of bytes up to ${MAX_HELD_BYTES}, got ${x}`);
    out[k] = x;
  }
  return ok(out);
}

/**
 * Checks a spec from any source (SDK call, CLI, JSON body): known fields only, finite
 * non-negative numbers, loss at most 100 %, delays at most {@link MAX_DELAY_MS}, an integer seed.
 * Returns a plain copy holding only the given fields.
 */
export function validateCondition(input: unknown): Result<ConditionSpec, ConditionError> {
  if (!isObject(input)) return bad('spec', `expected an object, got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`);
  const base = checkParams(input, '', SPEC_KEYS);
  if (base.isErr()) return err(base.error);
  const spec: ConditionSpec = base.value;
  if (input.down !== undefined) {
    if (typeof input.down !== 'boolean') return bad('down', `expected true or false, got ${JSON.stringify(input.down)}`);
    spec.down = input.down;
  }
  if (input.seed !== undefined) {
    const s = input.seed;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 0xffffffff) return bad('seed', `an integer from 0 to 4294967295, got ${JSON.stringify(s)}`);
    spec.seed = s;
  }
  for (const dir of ['toNic', 'fromNic'] as const) {
    const o = input[dir];
    if (o === undefined) continue;
    if (!isObject(o)) return bad(dir, `expected an object of ${PARAM_KEYS.join(', ')}`);
    const p = checkParams(o, `${dir}.`, PARAM_KEYS);
    if (p.isErr()) return err(p.error);
    spec[dir] = p.value;
  }
  return ok(spec);
}

/** The default token bucket depth for a rate (see {@link ConditionParams.burstBytes}). */
export function defaultBurstBytes(rateMbit: number, maxFrame: number): number {
  // 10 ms covers the timer and scheduling hiccups of a busy host without making the cap loose:
  // over any window T the link carries at most rate·T + burst.
  return Math.min(MAX_HELD_BYTES, Math.max(maxFrame, Math.ceil(rateMbit * 125 * 10)));
}

/** The default backlog bound for a rate (see {@link ConditionParams.queueBytes}). */
export function defaultQueueBytes(rateMbit: number, maxFrame: number): number {
  // 100 ms of the link is the classic router buffer (one RTT's worth at typical WAN delays).
  return Math.min(MAX_HELD_BYTES, Math.max(64 * 1024, 2 * maxFrame, Math.ceil(rateMbit * 125 * 100)));
}

function resolveDirection(
  spec: ConditionSpec,
  over: ConditionParams | undefined,
  dir: 'toNic' | 'fromNic',
  maxFrame: number,
): Result<ResolvedDirection, ConditionError> {
  const pick = (k: (typeof PARAM_KEYS)[number]): number => over?.[k] ?? spec[k] ?? 0;
  const rateMbit = pick('rateMbit');
  const sized = (k: 'queueBytes' | 'burstBytes'): Result<number | undefined, ConditionError> => {
    const given = over?.[k] ?? spec[k];
    const where = over?.[k] !== undefined ? `${dir}.${k}` : k;
    if (given !== undefined && rateMbit === 0) return bad(where, `only applies to a rate cap; set rateMbit too (${dir})`);
    return ok(given);
  };
  const queue = sized('queueBytes');
  if (queue.isErr()) return err(queue.error);
  const burst = sized('burstBytes');
  if (burst.isErr()) return err(burst.error);
  // One whole frame must fit, or the largest frames could never cross the link at all.
  if (queue.value !== undefined && queue.value < maxFrame)
    return bad(over?.queueBytes !== undefined ? `${dir}.queueBytes` : 'queueBytes', `at least one largest frame (${maxFrame} bytes), got ${queue.value}`);
  return ok({
    latencyMs: pick('latencyMs'),
    jitterMs: pick('jitterMs'),
    lossPct: pick('lossPct'),
    rateMbit,
    queueBytes: rateMbit === 0 ? 0 : (queue.value ?? defaultQueueBytes(rateMbit, maxFrame)),
    burstBytes: rateMbit === 0 ? 0 : (burst.value ?? defaultBurstBytes(rateMbit, maxFrame)),
  });
}

/** Validates a spec and fills in every field for both directions of a port carrying `maxFrame`-byte frames. */
export function resolveCondition(input: unknown, maxFrame: number): Result<ResolvedCondition, ConditionError> {
  const v = validateCondition(input);
  if (v.isErr()) return err(v.error);
  const spec = v.value;
  const to = resolveDirection(spec, spec.toNic, 'toNic', maxFrame);
  if (to.isErr()) return err(to.error);
  const from = resolveDirection(spec, spec.fromNic, 'fromNic', maxFrame);
  if (from.isErr()) return err(from.error);
  return ok({ spec, down: spec.down === true, seed: spec.seed, toNic: to.value, fromNic: from.value });
}
