import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../src/runtime/clock.js';
import { TurnQueue } from '../../src/runtime/end-of-turn.js';
import { TurnClock } from '../../src/runtime/turn-clock.js';

function setup() {
  const source = new ManualClock(100);
  let reads = 0;
  const counted = { now: () => (reads++, source.now()) };
  let pending: (() => void) | undefined;
  const turn = new TurnQueue((run) => (pending = run));
  const endTurn = (): void => {
    const r = pending;
    pending = undefined;
    r?.();
  };
  return { source, clock: new TurnClock(counted, turn), turn, endTurn, reads: () => reads };
}

test('the source is read once per turn, and afresh in the next one', () => {
  const { source, clock, endTurn, reads } = setup();
  assert.is(clock.now(), 100);
  source.set(105);
  assert.is(clock.now(), 100, 'same turn: the first reading');
  assert.is(reads(), 1);
  endTurn();
  assert.is(clock.now(), 105, 'next turn: read again');
  assert.is(reads(), 2);
});

test('a reading taken by end-of-turn work is itself dropped before the turn ends', () => {
  const { source, clock, turn, endTurn } = setup();
  clock.now();
  source.set(110);
  turn.defer(() => source.set(120));
  turn.deferWrite(() => clock.now());
  endTurn();
  assert.not.ok(turn.pending, 'nothing left for a later turn');
  source.set(130);
  assert.is(clock.now(), 130, 'the reading from the write lane did not survive the turn');
});

test.run();
