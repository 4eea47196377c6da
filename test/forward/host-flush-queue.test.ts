import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostFlushQueue } from '../../src/forward/host-flush-queue.js';
import type { TcpFlow } from '../../src/forward/tcp-flow.js';

/** A stand-in with just what the queue touches. */
function fakeFlow(log: string[], name: string): TcpFlow {
  const f = { flushQueued: false, flushToHost: () => { log.push(name); f.flushQueued = false; } };
  return f as unknown as TcpFlow;
}

test('a flow added many times in a turn is flushed once, and one deferred call serves every flow', () => {
  const deferred: Array<() => void> = [];
  const q = new HostFlushQueue((fn) => deferred.push(fn));
  const log: string[] = [];
  const a = fakeFlow(log, 'a');
  const b = fakeFlow(log, 'b');
  q.add(a);
  q.add(b);
  q.add(a);
  assert.is(deferred.length, 1);
  deferred[0]!();
  assert.equal(log, ['a', 'b']);
  // The next turn arms again.
  q.add(b);
  assert.is(deferred.length, 2);
  deferred[1]!();
  assert.equal(log, ['a', 'b', 'b']);
});

test.run();
