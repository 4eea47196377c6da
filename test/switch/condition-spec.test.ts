/**
 * Checking and resolving conditioning specs: what is refused (with the field named), what the
 * defaults are, and how per-direction overrides combine with the shared fields.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultBurstBytes, defaultQueueBytes, MAX_DELAY_MS, resolveCondition, validateCondition } from '../../src/switch/condition-spec.js';

const MAXF = 1514;

const refused = (input: unknown, field: string, re: RegExp): void => {
  const r = validateCondition(input).andThen(() => resolveCondition(input, MAXF));
  assert.ok(r.isErr(), `${JSON.stringify(input)} should be refused`);
  const e = r._unsafeUnwrapErr();
  assert.is(e.kind, 'invalid-condition');
  assert.is(e.field, field, e.message);
  assert.match(e.message, re);
};

test('bad values are refused, naming the field', () => {
  refused({ latencyMs: -1 }, 'latencyMs', /negative/);
  refused({ jitterMs: -0.5 }, 'jitterMs', /negative/);
  refused({ lossPct: 101 }, 'lossPct', /at most 100/);
  refused({ lossPct: -3 }, 'lossPct', /negative/);
  refused({ rateMbit: 0 }, 'rateMbit', /down: true/);
  refused({ rateMbit: -5 }, 'rateMbit', /negative/);
  refused({ latencyMs: MAX_DELAY_MS + 1 }, 'latencyMs', /at most/);
  refused({ latencyMs: Number.NaN }, 'latencyMs', /finite/);
  refused({ latencyMs: Infinity }, 'latencyMs', /finite/);
  refused({ latencyMs: '100ms' }, 'latencyMs', /finite number, got "100ms"/);
  refused({ down: 'yes' }, 'down', /true or false/);
  refused({ seed: 1.5 }, 'seed', /integer/);
  refused({ seed: -1 }, 'seed', /integer/);
  refused({ seed: 2 ** 32 }, 'seed', /integer/);
  refused({ latency: 100 }, 'latency', /unknown field/);
  refused({ toNic: { lossPct: 200 } }, 'toNic.lossPct', /at most 100/);
  refused({ toNic: { down: true } }, 'toNic.down', /unknown field/);
  refused({ fromNic: 5 }, 'fromNic', /expected an object/);
  refused(null, 'spec', /got null/);
  refused([], 'spec', /an array/);
  refused('latency=5', 'spec', /got string/);
});

test('queueBytes and burstBytes need a rate; the queue one whole frame; both integers', () => {
  refused({ queueBytes: 100_000 }, 'queueBytes', /set rateMbit/);
  refused({ burstBytes: 100_000 }, 'burstBytes', /set rateMbit/);
  refused({ rateMbit: 10, burstBytes: 10.5 }, 'burstBytes', /integer/);
  refused({ rateMbit: 10, burstBytes: -1 }, 'burstBytes', /negative/);
  refused({ rateMbit: 10, queueBytes: 1000 }, 'queueBytes', /at least one largest frame \(1514/);
  refused({ rateMbit: 10, queueBytes: 5000.5 }, 'queueBytes', /integer/);
  refused({ rateMbit: 10, toNic: { queueBytes: 100 } }, 'toNic.queueBytes', /at least one/);
  refused({ fromNic: { queueBytes: 100_000 } }, 'fromNic.queueBytes', /set rateMbit/);
});

test('an empty spec resolves to no impairment either way', () => {
  const r = resolveCondition({}, MAXF)._unsafeUnwrap();
  const none = { latencyMs: 0, jitterMs: 0, lossPct: 0, rateMbit: 0, queueBytes: 0, burstBytes: 0 };
  assert.equal(r.toNic, none);
  assert.equal(r.fromNic, none);
  assert.is(r.down, false);
  assert.is(r.seed, undefined);
});

test('shared fields apply to both directions; overrides to one', () => {
  const r = resolveCondition({ latencyMs: 50, lossPct: 1, seed: 7, down: true, fromNic: { latencyMs: 5, rateMbit: 10 } }, MAXF)._unsafeUnwrap();
  assert.equal(r.toNic, { latencyMs: 50, jitterMs: 0, lossPct: 1, rateMbit: 0, queueBytes: 0, burstBytes: 0 });
  assert.equal(r.fromNic, { latencyMs: 5, jitterMs: 0, lossPct: 1, rateMbit: 10, queueBytes: defaultQueueBytes(10, MAXF), burstBytes: defaultBurstBytes(10, MAXF) });
  assert.is(r.seed, 7);
  assert.is(r.down, true);
  assert.equal(r.spec, { latencyMs: 50, lossPct: 1, seed: 7, down: true, fromNic: { latencyMs: 5, rateMbit: 10 } });
});

test('the default queue is 100 ms of the link, at least 64 KiB and two largest frames', () => {
  assert.is(defaultQueueBytes(50, 1514), 625_000);
  assert.is(defaultQueueBytes(1, 1514), 65_536);
  assert.is(defaultQueueBytes(1, 65_549), 131_098);
  assert.is(resolveCondition({ rateMbit: 50 }, MAXF)._unsafeUnwrap().toNic.queueBytes, 625_000);
  assert.is(resolveCondition({ rateMbit: 50, queueBytes: 10_000 }, MAXF)._unsafeUnwrap().fromNic.queueBytes, 10_000);
});

test('the default burst is 10 ms of the link, at least one largest frame; 0 is allowed', () => {
  assert.is(defaultBurstBytes(50, 1514), 62_500);
  assert.is(defaultBurstBytes(1, 1514), 1514);
  assert.is(resolveCondition({ rateMbit: 50, burstBytes: 0 }, MAXF)._unsafeUnwrap().toNic.burstBytes, 0);
  assert.is(resolveCondition({ rateMbit: 50, fromNic: { burstBytes: 3000 } }, MAXF)._unsafeUnwrap().fromNic.burstBytes, 3000);
});

test('validation returns a copy holding only the given fields', () => {
  const input = { lossPct: 5, toNic: { jitterMs: 3 } };
  const v = validateCondition(input)._unsafeUnwrap();
  assert.equal(v, { lossPct: 5, toNic: { jitterMs: 3 } });
  v.toNic!.jitterMs = 9;
  assert.is(input.toNic.jitterMs, 3);
});

test.run();
