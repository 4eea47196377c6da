import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UV_EAGAIN, UV_EBADF, errnoName } from '../../src/native/os-error.js';
import { nativeOrSkip } from './native-test-helpers.js';

const native = nativeOrSkip('test/native/fd-handle.test.ts');

if (native !== undefined) {
  const pair = (): [InstanceType<typeof native.FdHandle>, InstanceType<typeof native.FdHandle>] => {
    const p = native.socketPair();
    if (typeof p === 'number') throw new Error(`socketPair failed: ${errnoName(p)}`);
    return [new native.FdHandle(p[0]), new native.FdHandle(p[1])];
  };

  test('read on an empty socket is -EAGAIN, then data, then 0 at EOF', () => {
    const [a, b] = pair();
    const buf = Buffer.alloc(16);
    assert.is(b.read(buf), UV_EAGAIN);
    assert.is(a.write(Buffer.from('xhello'), 1, 5), 5);
    assert.is(b.read(buf), 5);
    assert.is(buf.subarray(0, 5).toString(), 'hello');
    assert.is(a.shutdownWrite(), 0);
    assert.is(b.read(buf), 0, 'EOF after the peer shut down its write side');
    // Half-close: b can still write to a.
    assert.is(b.write(Buffer.from('back'), 0, 4), 4);
    assert.is(a.read(buf), 4);
    a.close();
    b.close();
  });

  test('write fills the socket buffer and then reports -EAGAIN', () => {
    const [a, b] = pair();
    const chunk = Buffer.alloc(64 * 1024, 7);
    let total = 0;
    let last = 0;
    for (let i = 0; i < 10_000; i++) {
      last = a.write(chunk, 0, chunk.length);
      if (last < 0) break;
      total += last;
    }
    assert.is(last, UV_EAGAIN);
    assert.ok(total > 0);
    a.close();
    b.close();
  });

  test('closed handle: calls return -EBADF, close is idempotent, fd() is -1', () => {
    const [a, b] = pair();
    assert.ok(a.fd() >= 0);
    assert.is(a.close(), 0);
    assert.is(a.close(), 0);
    assert.is(a.fd(), -1);
    assert.is(a.read(Buffer.alloc(4)), UV_EBADF);
    assert.is(a.write(Buffer.alloc(4), 0, 4), UV_EBADF);
    assert.is(a.startReading(() => {}), UV_EBADF);
    // The peer sees EOF once a is closed.
    assert.is(b.read(Buffer.alloc(4)), 0);
    b.close();
  });

  test('bad arguments throw TypeError instead of touching memory', () => {
    const [a, b] = pair();
    assert.throws(() => a.write(Buffer.alloc(4), 2, 3), TypeError);
    assert.throws(() => a.write(Buffer.alloc(4), -1, 1), TypeError);
    assert.throws(() => a.read(Buffer.alloc(0)), TypeError);
    assert.throws(() => a.read('nope' as unknown as Uint8Array), TypeError);
    assert.throws(() => a.startReading(42 as unknown as () => void), TypeError);
    assert.throws(() => new native.FdHandle(-3), TypeError);
    a.close();
    b.close();
  });

  test('startReading fires when data arrives; awaitWritable fires once', async () => {
    const [a, b] = pair();
    const got = await new Promise<string>((resolve) => {
      b.startReading((status) => {
        assert.is(status, 0);
        const buf = Buffer.alloc(16);
        const n = b.read(buf);
        b.stopReading();
        resolve(buf.subarray(0, n).toString());
      });
      a.write(Buffer.from('ping'), 0, 4);
    });
    assert.is(got, 'ping');
    let calls = 0;
    await new Promise<void>((resolve) => {
      a.awaitWritable((status) => {
        calls++;
        assert.is(status, 0);
        resolve();
      });
    });
    await new Promise((r) => setImmediate(r));
    assert.is(calls, 1);
    a.close();
    b.close();
  });

  test('an exception thrown in a readiness callback surfaces as uncaughtException', async () => {
    const [a, b] = pair();
    const seen = new Promise<Error>((resolve) => {
      const prev = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (e) => {
        for (const l of prev) process.on('uncaughtException', l);
        resolve(e);
      });
    });
    b.startReading(() => {
      b.stopReading();
      throw new Error('boom from callback');
    });
    a.write(Buffer.from('x'), 0, 1);
    const e = await seen;
    assert.is(e.message, 'boom from callback');
    a.close();
    b.close();
  });
}

test.run();
