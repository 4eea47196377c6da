import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../src/runtime/clock.js';
import { MacTable } from '../../src/switch/mac-table.js';

test('an aged MAC is not forwarded to, but its port still lists it until it is seen again or the port goes', () => {
  const clock = new ManualClock();
  const t = new MacTable(clock, 1000, 4);
  t.learn(0xa1, 2);
  clock.set(5000);
  assert.is(t.lookup(0xa1), -1, 'aged: flood');
  assert.is(t.lookup(0xa1), -1);
  assert.is(t.lastKnownPort(0xa1), 2);
  assert.equal(t.macsOf(2), [0xa1], 'what a detach needs to find the guest');
  t.learn(0xa1, 2);
  assert.is(t.lookup(0xa1), 2, 'seen again');
  t.removePort(2);
  assert.is(t.lastKnownPort(0xa1), -1);
  assert.equal(t.macsOf(2), []);
});

test('a port at its cap makes room from its aged MACs first', () => {
  const clock = new ManualClock();
  const t = new MacTable(clock, 1000, 2);
  t.learn(0xa1, 2);
  t.learn(0xa2, 2);
  assert.not.ok(t.learn(0xa3, 2), 'full while both are fresh');
  clock.set(5000);
  assert.ok(t.learn(0xa3, 2));
  assert.equal(t.macsOf(2), [0xa3]);
});

test.run();
