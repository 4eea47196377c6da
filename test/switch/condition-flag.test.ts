/**
 * `--condition SELECTOR:SETTINGS`: selectors, units, direction prefixes, and one-line errors
 * that name the flag and the setting.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConditionSpec, selectsNic } from '../../src/switch/condition-flag.js';

const spec = (s: string) => parseConditionSpec(s)._unsafeUnwrap();

const fails = (s: string, re: RegExp): void => {
  const r = parseConditionSpec(s);
  assert.ok(r.isErr(), `${s} should be refused`);
  const e = r._unsafeUnwrapErr();
  assert.is(e.kind, 'bad-flag');
  assert.is(e.flag, '--condition');
  assert.match(e.message, /^--condition: /);
  assert.match(e.message, re);
  assert.not.match(e.message, /\n/);
};

test('the example from the docs', () => {
  assert.equal(spec('*:latency=100ms,loss=10%,rate=50mbit'), {
    selector: { kind: 'all' },
    spec: { latencyMs: 100, lossPct: 10, rateMbit: 50 },
  });
});

test('selectors: *, a MAC (any case), a UUID', () => {
  assert.equal(spec('02:00:00:00:0A:01:loss=1').selector, { kind: 'mac', mac: '02:00:00:00:0a:01' });
  assert.equal(spec('6B1A43A0-2c64-4f54-9e0e-0a0a0a0a0a0a:down').selector, { kind: 'uuid', uuid: '6b1a43a0-2c64-4f54-9e0e-0a0a0a0a0a0a' });
  assert.ok(selectsNic({ kind: 'all' }, {}));
  assert.ok(selectsNic({ kind: 'mac', mac: '02:00:00:00:0a:01' }, { mac: '02:00:00:00:0A:01' }));
  assert.not.ok(selectsNic({ kind: 'mac', mac: '02:00:00:00:0a:01' }, { mac: '02:00:00:00:0a:02' }));
  assert.not.ok(selectsNic({ kind: 'mac', mac: '02:00:00:00:0a:01' }, {}), 'a MAC not yet known matches nothing');
  assert.ok(selectsNic({ kind: 'uuid', uuid: 'ab' }, { uuid: 'AB' }));
  assert.not.ok(selectsNic({ kind: 'uuid', uuid: 'ab' }, { mac: 'ab' }));
});

test('units: durations, percentages, bit rates, byte sizes', () => {
  assert.equal(spec('*:latency=1.5s,jitter=250us').spec, { latencyMs: 1500, jitterMs: 0.25 });
  assert.equal(spec('*:latency=20,loss=0.5').spec, { latencyMs: 20, lossPct: 0.5 }, 'bare numbers: ms and percent');
  assert.is(spec('*:rate=512kbit').spec.rateMbit, 0.512);
  assert.is(spec('*:rate=1gbit').spec.rateMbit, 1000);
  assert.is(spec('*:rate=2Mbit').spec.rateMbit, 2);
  assert.ok(Math.abs(spec('*:rate=64000bit').spec.rateMbit! - 0.064) < 1e-12);
  assert.is(spec('*:rate=10mbit,queue=256kib').spec.queueBytes, 262_144);
  assert.is(spec('*:rate=10mbit,queue=1mib').spec.queueBytes, 1_048_576);
  assert.is(spec('*:rate=10mbit,queue=64kb').spec.queueBytes, 64_000);
  assert.is(spec('*:rate=10mbit,queue=9000').spec.queueBytes, 9000);
  assert.equal(spec('*:rate=10mbit,burst=0,from-nic.burst=16kib').spec, { rateMbit: 10, burstBytes: 0, fromNic: { burstBytes: 16_384 } });
});

test('down, down=false, seed, direction prefixes', () => {
  assert.equal(spec('*:down').spec, { down: true });
  assert.equal(spec('*:down=false,seed=42').spec, { down: false, seed: 42 });
  assert.equal(spec('*:latency=10ms,to-nic.latency=40ms,from-nic.rate=5mbit,from-nic.loss=2%').spec, {
    latencyMs: 10,
    toNic: { latencyMs: 40 },
    fromNic: { rateMbit: 5, lossPct: 2 },
  });
});

test('errors name the flag and the setting, in one line', () => {
  fails('latency=100ms', /SELECTOR:SETTINGS/);
  fails('eth0:latency=100ms', /SELECTOR:SETTINGS/);
  fails('*', /SELECTOR:SETTINGS/);
  fails('*:', /no settings/);
  fails('*:latency=fast', /latency: expected a duration/);
  fails('*:latency=100min', /latency: expected a duration/);
  fails('*:loss=10%%', /loss: expected a percentage/);
  fails('*:loss=150%', /loss: a percentage, at most 100/);
  fails('*:rate=50mbps', /byte rate; write bits/);
  fails('*:rate=50', /rate: expected bits per second/);
  fails('*:rate=0mbit', /rate: between/);
  fails('*:queue=10.5', /queue: expected a whole number/);
  fails('*:latency=1ms,latency=2ms', /latency given twice/);
  fails('*:colour=blue', /unknown setting "colour"/);
  fails('*:to-nic.down', /to-nic\.down: down applies to both directions/);
  fails('*:from-nic.seed=3', /from-nic\.seed: seed applies to both directions/);
  fails('*:sideways.loss=3', /unknown setting "sideways\.loss"/);
  fails('*:down=maybe', /down: expected nothing, true or false/);
  fails('*:seed=-1', /seed: expected an unsigned integer/);
  fails('*:seed=99999999999', /seed: an integer from 0/);
  fails('*:latency', /latency: expected latency=VALUE/);
  fails('*:latency=1ms,,loss=1', /empty setting/);
  fails('*:to-nic.loss=101', /to-nic\.loss: a percentage/);
});

test.run();
