import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FdStream } from '../../src/native/fd-stream.js';
import { errnoName } from '../../src/native/os-error.js';
import { eventually, nativeOrSkip } from './native-test-helpers.js';

const native = nativeOrSkip('test/native/fd-stream.test.ts');

if (native !== undefined) {
  const pair = (opts = {}): [FdStream, FdStream] => {
    const p = native.socketPair();
    if (typeof p === 'number') throw new Error(`socketPair failed: ${errnoName(p)}`);
    return [new FdStream(new native.FdHandle(p[0]), opts), new FdStream(new native.FdHandle(p[1]), opts)];
  };
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  /** Collects a readable side to its end. (Not `for await`: that destroys a Duplex at the
   * end of its readable side, aborting a write side that is still busy.) */
  function drain(r: Readable): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      r.on('data', (c: Buffer) => parts.push(c));
      r.once('end', () => resolve(Buffer.concat(parts)));
      r.once('error', reject);
    });
  }
  /** Writes `data` in uneven chunks, honouring backpressure, then ends. */
  async function pump(w: FdStream, data: Buffer): Promise<void> {
    let off = 0;
    let step = 1;
    while (off < data.length) {
      const n = Math.min(data.length - off, 1 + ((step++ * 7919) % 200_000));
      if (!w.write(data.subarray(off, off + n))) await once(w, 'drain');
      off += n;
    }
    w.end();
  }

  test('8 MiB each way concurrently, intact (sha256), with half-close', async () => {
    const [a, b] = pair();
    const ab = randomBytes(8 * 1024 * 1024);
    const ba = randomBytes(8 * 1024 * 1024 + 13);
    const [gotAtB, gotAtA] = await Promise.all([drain(b), drain(a), pump(a, ab), pump(b, ba)]);
    assert.is(gotAtB.length, ab.length);
    assert.is(sha(gotAtB), sha(ab));
    assert.is(sha(gotAtA), sha(ba));
    await eventually(() => a.destroyed && b.destroyed);
    assert.ok(a.destroyed && b.destroyed, 'both sides auto-destroy once both directions ended');
  });

  test('half-close: the side that ended can still read the reply', async () => {
    const [client, server] = pair();
    server.on('data', () => {});
    const request = new Promise<void>((resolve) => server.once('end', resolve));
    client.end('request');
    await request;
    assert.ok(!server.writableEnded, 'server write side is still open after client FIN');
    const replyP = drain(client);
    server.end('reply after FIN');
    assert.is((await replyP).toString(), 'reply after FIN');
  });

  test('backpressure: a paused reader stops polling and the writer sees the buffer fill', async () => {
    const [w, r] = pair({ readableHighWaterMark: 16 * 1024 });
    const parts: Buffer[] = [];
    r.on('data', (c: Buffer) => parts.push(c));
    const data = randomBytes(8 * 1024 * 1024);
    w.write(data.subarray(0, 1000));
    assert.ok(await eventually(() => parts.length > 0), 'reader is flowing');
    r.pause();
    let off = 1000;
    let full = false;
    while (off < data.length) {
      const more = w.write(data.subarray(off, off + 64 * 1024));
      off += 64 * 1024;
      if (!more) {
        full = true;
        break;
      }
    }
    assert.ok(full, 'write() returned false');
    // Many loop turns pass; if the reader kept polling it would pull the whole kernel
    // buffer (hundreds of KiB) into its readable queue.
    await eventually(() => false, 300);
    assert.ok(r.readableLength <= 16 * 1024 + 64 * 1024, `reader buffered about its high-water mark only (${r.readableLength})`);
    assert.ok(w.writableLength > 0, 'the writer holds bytes the kernel would not take');
    const ended = new Promise((resolve) => r.once('end', resolve));
    r.resume();
    await pump(w, data.subarray(Math.min(off, data.length)));
    await ended;
    assert.is(sha(Buffer.concat(parts)), sha(data));
  });

  test('writing to a socket whose peer is gone errors with EPIPE/ECONNRESET, not a crash', async () => {
    const [a, b] = pair();
    b.destroy();
    const e = (await new Promise<NodeJS.ErrnoException>((resolve) => {
      a.on('error', resolve);
      const big = Buffer.alloc(1024 * 1024);
      const loop = (): void => {
        if (a.destroyed) return;
        a.write(big, () => setImmediate(loop));
      };
      loop();
    })) as NodeJS.ErrnoException;
    assert.ok(e.code === 'EPIPE' || e.code === 'ECONNRESET', `got ${e.code}`);
    assert.match(e.message, /write failed/);
  });

  test('destroy closes the descriptor', () => {
    const [a, b] = pair();
    a.destroy();
    assert.is(a.handle.fd(), -1);
    b.destroy();
  });
}

test.run();
