import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { systemClock } from '../../src/runtime/clock.js';
import { SystemScheduler, Timer } from '../../src/runtime/scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a deadline moved later or disarmed is still honoured: nothing fires early, the later one fires', async () => {
  const s = new SystemScheduler(systemClock);
  const fired: Array<[string, number]> = [];
  const t0 = systemClock.now();
  const a = new Timer(() => fired.push(['a', systemClock.now() - t0]));
  const b = new Timer(() => fired.push(['b', systemClock.now() - t0]));
  s.arm(a, t0 + 20);
  s.arm(b, t0 + 60);
  s.disarm(a); // the pending 20 ms timeout now fires early and re-arms for b
  s.arm(b, t0 + 80); // later again
  await sleep(130);
  assert.is(fired.length, 1);
  assert.is(fired[0]![0], 'b');
  assert.ok(fired[0]![1] >= 80, `b fired at ${fired[0]![1]} ms, not before its deadline`);
  s.stop();
});

test('an earlier deadline replaces the pending timeout', async () => {
  const s = new SystemScheduler(systemClock);
  const t0 = systemClock.now();
  let at = -1;
  const late = new Timer(() => {});
  const early = new Timer(() => (at = systemClock.now() - t0));
  s.arm(late, t0 + 5000);
  s.arm(early, t0 + 15);
  await sleep(200);
  assert.ok(at >= 15 && at < 200, `fired at ${at} ms`);
  s.stop();
});

test.run();
