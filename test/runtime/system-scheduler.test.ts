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

test('a deadline beyond setTimeout\'s 24.8-day limit waits quietly instead of spinning', async () => {
  const s = new SystemScheduler(systemClock);
  const real = globalThis.setTimeout;
  const delays: number[] = [];
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return real(fn, ms);
  }) as typeof setTimeout;
  try {
    let fired = false;
    s.arm(new Timer(() => (fired = true)), systemClock.now() + 30 * 24 * 3600_000); // a 30-day DHCP lease
    await sleep(100);
    assert.not.ok(fired);
    // (The test's own sleep goes through setTimeout too: look at the scheduler's long ones.)
    const long = delays.filter((d) => d > 1000 || d <= 1);
    assert.equal(long, [2 ** 31 - 1], `setTimeout delays ${JSON.stringify(delays)}`);
  } finally {
    globalThis.setTimeout = real;
    process.off('warning', onWarning);
    s.stop();
  }
  assert.equal(warnings, []);
});

test.run();
