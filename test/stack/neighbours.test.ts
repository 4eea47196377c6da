import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../src/runtime/clock.js';
import { Neighbours } from '../../src/stack/neighbours.js';

test('an expired entry is not used to send, but is kept for attribution until relearnt', () => {
  const clock = new ManualClock();
  const n = new Neighbours(clock, 1000, 8);
  n.learn(10, 0xa1);
  assert.is(n.lookup(10), 0xa1);
  clock.set(2000);
  assert.is(n.lookup(10), -1, 'expired: the caller resolves it again');
  assert.is(n.lookup(10), -1, 'and again: asking twice changes nothing');
  assert.is(n.lastKnown(10), 0xa1, 'still known as the last MAC');
  assert.equal(n.entries(), [{ ip: 10, mac: 0xa1 }]);
  n.learn(10, 0xa2);
  assert.is(n.lookup(10), 0xa2);
  assert.is(n.lastKnown(99), -1);
});

test('the cap still bounds memory: the oldest entry makes room, expired or not', () => {
  const clock = new ManualClock();
  const n = new Neighbours(clock, 1000, 2);
  n.learn(1, 0xa1);
  clock.set(10);
  n.learn(2, 0xa2);
  clock.set(5000);
  n.learn(3, 0xa3);
  assert.equal(n.entries().map((e) => e.ip).sort(), [2, 3]);
});

test.run();
