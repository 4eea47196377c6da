/**
 * End to end: vsudd-style port forwarding over hybrid vsock Unix sockets (protocols.md §2.6).
 *
 *   client ──unix──▶ exposeVsockAsUnix ──CONNECT 5000──▶ "VMM" (listenHybrid) ──▶ guest service
 *   "guest" ──<uds>_1025──▶ forwardVsockToUnix ──unix──▶ host service
 *
 * 10 MiB go each way and are checked with sha256. The half-close tests make the far side
 * answer only AFTER it saw end-of-stream, so they pass only if a FIN crosses the forwarder
 * without closing the opposite direction.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exposeVsockAsUnix, forwardVsockToUnix, type ForwardHandle } from '../../adapters/hvsock/forward.js';
import { listenHybrid } from '../../adapters/hvsock/hybrid-vsock.js';
import { HybridVsockProvider } from '../../adapters/hvsock/unix-providers.js';
import { sha } from '../harness/bytes.js';

const SIZE = 10 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'vnkt-e2e-'));
const uds = join(dir, 'vm.sock');
const cleanups: Array<() => unknown> = [];
const provider = new HybridVsockProvider();


/** Reads a stream to its end, hashing as it goes. */
function hashToEnd(s: Duplex): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      bytes += c.length;
    });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve({ sha: h.digest('hex'), bytes });
    };
    // 'close' too: a torn-down stream must fail the comparison, not hang the test.
    s.once('end', finish);
    s.once('close', finish);
    s.once('error', reject);
  });
}

/** Writes `data` in uneven pieces, respecting backpressure, then half-closes. */
async function send(s: Duplex, data: Buffer): Promise<void> {
  let off = 0;
  for (let i = 1; off < data.length; i++) {
    const n = Math.min(data.length - off, 1 + ((i * 104_729) % 300_000));
    if (!s.write(data.subarray(off, off + n))) await once(s, 'drain');
    off += n;
  }
  s.end();
}

/** The far-side behaviour under test: read everything, then (only then) answer with `reply`. */
function answerAfterEof(s: Duplex, reply: Buffer): Promise<{ sha: string; bytes: number }> {
  return hashToEnd(s).then(async (got) => {
    await send(s, reply);
    return got;
  });
}

const guestReplies = new Map<number, Buffer>();
const guestReceived = new Map<number, Promise<{ sha: string; bytes: number }>>();

test.before(async () => {
  // The "VMM + guest": accepts CONNECT to ports 5000 and 5001 only.
  const vmm = (
    await listenHybrid(
      uds,
      (port, stream) => {
        const reply = guestReplies.get(port) ?? Buffer.alloc(0);
        guestReceived.set(port, port === 5000 ? answerAfterEof(stream, reply) : Promise.all([hashToEnd(stream), send(stream, reply)]).then(([h]) => h));
      },
      { accept: (port) => port === 5000 || port === 5001 },
    )
  )._unsafeUnwrap();
  cleanups.push(() => vmm.close());
});

test.after(() => {
  for (const c of cleanups) c();
  rmSync(dir, { recursive: true, force: true });
});

async function expose(port: number, name: string): Promise<{ fwd: ForwardHandle; path: string }> {
  const path = join(dir, name);
  const fwd = (await exposeVsockAsUnix({ provider, target: { transport: 'hybrid', udsPath: uds, port }, unixPath: path }))._unsafeUnwrap();
  cleanups.push(() => fwd.close());
  return { fwd, path };
}

function dial(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ path, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('host Unix → guest vsock: 10 MiB each way intact, reply sent only after the half-close', async () => {
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE + 7);
  guestReplies.set(5000, down);
  const { fwd, path } = await expose(5000, 'exposed-5000.sock');
  const client = await dial(path);
  const received = hashToEnd(client);
  await send(client, up);
  const atClient = await received;
  const atGuest = await guestReceived.get(5000)!;
  assert.equal(atGuest, { sha: sha(up), bytes: up.length }, 'guest got the client bytes');
  assert.equal(atClient, { sha: sha(down), bytes: down.length }, 'client got the guest bytes after its own FIN');
  for (let i = 0; i < 100 && fwd.active > 0; i++) await new Promise((r) => setImmediate(r));
  assert.is(fwd.active, 0, 'the joined pair is torn down once both directions ended');
});

test('host Unix → guest vsock: full duplex at once, 10 MiB each way', async () => {
  const up = randomBytes(SIZE);
  const down = randomBytes(SIZE);
  guestReplies.set(5001, down);
  const { path } = await expose(5001, 'exposed-5001.sock');
  const client = await dial(path);
  const [atClient] = await Promise.all([hashToEnd(client), send(client, up)]);
  assert.is(atClient.sha, sha(down));
  assert.is((await guestReceived.get(5001)!).sha, sha(up));
});

test('guest vsock → host Unix (reverse forward): 10 MiB each way with half-close', async () => {
  const svcPath = join(dir, 'host-service.sock');
  const down = randomBytes(SIZE);
  const up = randomBytes(SIZE + 1);
  let atService: Promise<{ sha: string; bytes: number }> | undefined;
  const svc: Server = createServer({ allowHalfOpen: true }, (s) => {
    atService = answerAfterEof(s, up);
  });
  await new Promise<void>((r) => svc.listen(svcPath, r));
  cleanups.push(() => svc.close());
  const fwd = (await forwardVsockToUnix({ provider, listen: { transport: 'hybrid', udsPath: uds, port: 1025 }, unixPath: svcPath }))._unsafeUnwrap();
  cleanups.push(() => fwd.close());
  // What the VMM does when the guest connects to host port 1025.
  const guest = await dial(`${uds}_1025`);
  const received = hashToEnd(guest);
  await send(guest, down);
  assert.equal(await received, { sha: sha(up), bytes: up.length });
  assert.equal(await atService!, { sha: sha(down), bytes: down.length });
});

test('a refused guest port closes the client connection and counts a failure', async () => {
  const errors: string[] = [];
  const path = join(dir, 'refused.sock');
  const fwd = (
    await exposeVsockAsUnix({ provider, target: { transport: 'hybrid', udsPath: uds, port: 6000 }, unixPath: path, onError: (e) => errors.push(e.kind) })
  )._unsafeUnwrap();
  cleanups.push(() => fwd.close());
  const client = await dial(path);
  client.resume();
  await once(client, 'end'); // the forwarder closed its side (the client is half-open)
  assert.is(fwd.failed, 1);
  assert.equal(errors, ['handshake-failed']);
});

test('close() stops accepting and tears down joined connections', async () => {
  guestReplies.set(5001, Buffer.alloc(0));
  const { fwd, path } = await expose(5001, 'teardown.sock');
  const client = await dial(path);
  client.write('hold the connection open');
  client.resume();
  for (let i = 0; i < 200 && fwd.active === 0; i++) await new Promise((r) => setImmediate(r));
  assert.is(fwd.active, 1);
  const ended = once(client, 'end');
  await fwd.close();
  await ended;
  const again = await new Promise<string>((resolve) => {
    const s = connect({ path });
    s.once('connect', () => resolve('connected'));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.ok(again === 'ENOENT' || again === 'ECONNREFUSED', again);
});

test.run();
