import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { endOfTurn, TurnQueue } from '../../src/runtime/end-of-turn.js';

/** A queue armed by hand: `arms` counts the armings, `fire()` runs the end of the turn. */
function manualQueue() {
  let pending: (() => void) | undefined;
  let arms = 0;
  const q = new TurnQueue((run) => {
    arms++;
    pending = run;
  });
  const fire = (): void => {
    const r = pending;
    pending = undefined;
    r?.();
  };
  return { q, fire, arms: () => arms };
}

test('work of one turn is armed once and runs in order at the end of the turn', () => {
  const { q, fire, arms } = manualQueue();
  const log: string[] = [];
  q.defer(() => log.push('a'));
  q.defer(() => log.push('b'));
  q.defer(() => log.push('c'));
  assert.is(arms(), 1);
  assert.equal(log, []);
  assert.ok(q.pending);
  fire();
  assert.equal(log, ['a', 'b', 'c']);
  assert.not.ok(q.pending);
  q.defer(() => log.push('d'));
  assert.is(arms(), 2, 'the next turn arms again');
});

test('transport writes run after the protocol work, also work queued by a write', () => {
  const { q, fire, arms } = manualQueue();
  const log: string[] = [];
  q.deferWrite(() => {
    log.push('write 1');
    q.defer(() => log.push('work from write'));
  });
  q.defer(() => {
    log.push('work 1');
    q.deferWrite(() => log.push('write from work'));
    q.defer(() => log.push('work 2'));
  });
  fire();
  assert.equal(log, ['work 1', 'work 2', 'write 1', 'write from work', 'work from write']);
  assert.is(arms(), 1, 'everything ran in the one pass');
});

test('a throwing callback propagates, and the rest still runs at the next arming', () => {
  const { q, fire, arms } = manualQueue();
  const log: string[] = [];
  q.defer(() => log.push('a'));
  q.defer(() => {
    throw new Error('boom');
  });
  q.defer(() => log.push('c'));
  q.deferWrite(() => log.push('w'));
  assert.throws(fire, /boom/);
  assert.equal(log, ['a']);
  assert.is(arms(), 2, 're-armed for what was left');
  fire();
  assert.equal(log, ['a', 'c', 'w']);
  assert.not.ok(q.pending);
});

test('the process queue runs after I/O callbacks of the turn, before the next turn', async () => {
  const log: string[] = [];
  endOfTurn.defer(() => log.push('end of turn'));
  queueMicrotask(() => log.push('microtask'));
  await new Promise((r) => setImmediate(r));
  assert.equal(log, ['microtask', 'end of turn']);
});

test.run();
