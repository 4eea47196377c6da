import { existsSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  connectHyperkitGuest,
  formatHyperkitHeader,
  hyperkitConnectPath,
  hyperkitGuestForwardPath,
  hyperkitHostPortPath,
  listenHyperkitVsock,
  parseHyperkitHeader,
  serveHyperkitConnect,
} from '../../../adapters/hvsock/hyperkit-vsock.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { closedWith, collect, destroyTracked, rawConnect, tempDir, track } from './hvsock-test-helpers.js';

const { dir, cleanup } = tempDir();
const servers: Server[] = [];
test.after(() => {
  destroyTracked();
  for (const s of servers) s.close();
  cleanup();
});

test('paths follow protocols.md §2.4 (lowercase %08x)', () => {
  assert.is(hyperkitHostPortPath('/d', 62373), '/d/00000002.0000f3a5');
  assert.is(hyperkitConnectPath('/d'), '/d/connect');
  assert.is(hyperkitGuestForwardPath('/d', 3, 0xabcdef), '/d/00000003.00abcdef');
});

test('header: exactly 18 bytes CCCCCCCC.PPPPPPPP\\n', () => {
  const h = formatHyperkitHeader(3, 62373);
  assert.is(h.toString('latin1'), '00000003.0000f3a5\n');
  assert.is(h.length, 18);
  assert.equal(parseHyperkitHeader(h)._unsafeUnwrap(), { cid: 3, port: 62373 });
  assert.equal(parseHyperkitHeader(Buffer.from('FFFFFFFF.0000F3A5\n'))._unsafeUnwrap(), { cid: 0xffffffff, port: 62373 });
});

test('header: short, long, missing newline, bad hex and bad separator are malformed', () => {
  for (const bad of ['00000003.0000f3a', '00000003.0000f3a5\n\n', '00000003.0000f3a5x', '0000000g.0000f3a5\n', '00000003:0000f3a5\n', ' 0000003.0000f3a5\n', '+0000003.0000f3a5\n']) {
    const r = parseHyperkitHeader(Buffer.from(bad, 'latin1'));
    assert.ok(r.isErr(), JSON.stringify(bad));
    assert.is(r._unsafeUnwrapErr().reason, 'malformed');
  }
  assert.ok(parseHyperkitHeader(new Uint8Array(0)).isErr());
});

test('host → guest: header parsed by the connect-socket server; payload after it preserved', async () => {
  const got = new Promise<{ port: number; data: string }>((resolve) => {
    void serveHyperkitConnect(dir, 3, (port, stream) => {
      track(stream);
      void collect(stream).then((d) => resolve({ port, data: d.toString() }));
      stream.end('from guest');
    }).map((s) => servers.push(s));
  });
  await new Promise((r) => setImmediate(r));
  const s = track((await connectHyperkitGuest(dir, 3, 62373))._unsafeUnwrap());
  const reply = collect(s);
  s.end('payload');
  assert.equal(await got, { port: 62373, data: 'payload' });
  assert.is((await reply).toString(), 'from guest', 'no acknowledgement bytes precede the payload');
});

test('connect-socket server closes on wrong CID, bad hex, short read; nothing is delivered', async () => {
  const sub = tempDir();
  let delivered = 0;
  servers.push((await serveHyperkitConnect(sub.dir, 3, (_port, s) => (track(s), delivered++)))._unsafeUnwrap());
  const attempts: Array<[string, (s: Socket) => void]> = [
    ['wrong CID', (s) => s.write('00000004.0000f3a5\nxyz')],
    ['bad hex', (s) => s.write('0000000z.0000f3a5\n')],
    ['no newline', (s) => s.write('00000003.0000f3a5X')],
    ['short read then EOF', (s) => s.end('00000003.00')],
  ];
  for (const [what, send] of attempts) {
    const s = await rawConnect(hyperkitConnectPath(sub.dir));
    const got = closedWith(s);
    send(s);
    assert.is((await got).length, 0, `${what}: closed without reply`);
  }
  assert.is(delivered, 0);
  sub.cleanup();
});

test('connect-socket server: a header that never completes times out (manual scheduler)', async () => {
  const sub = tempDir();
  const scheduler = new ManualScheduler();
  servers.push((await serveHyperkitConnect(sub.dir, 3, (_port, s) => void track(s), { timeoutMs: 500, scheduler }))._unsafeUnwrap());
  const s = await rawConnect(hyperkitConnectPath(sub.dir));
  const got = closedWith(s);
  s.write('00000003');
  for (let i = 0; i < 50 && scheduler.size === 0; i++) await new Promise((r) => setImmediate(r));
  assert.is(scheduler.size, 1);
  scheduler.advance(500);
  assert.is((await got).length, 0);
  sub.cleanup();
});

test('guest → host: listening on <dir>/00000002.<port> receives raw streams', async () => {
  const got = new Promise<string>((resolve) => {
    void listenHyperkitVsock(dir, 1024, (s) => collect(track(s)).then((b) => resolve(b.toString()))).map((s) => servers.push(s));
  });
  await new Promise((r) => setImmediate(r));
  assert.ok(existsSync(`${dir}/00000002.00000400`));
  const s = await rawConnect(`${dir}/00000002.00000400`);
  s.end('guest says hi');
  assert.is(await got, 'guest says hi');
});

test('connectHyperkitGuest validates CID and port; missing directory is an os-error', async () => {
  assert.is((await connectHyperkitGuest(dir, -1, 5))._unsafeUnwrapErr().kind, 'invalid-address');
  assert.is((await connectHyperkitGuest(dir, 3, 2 ** 32))._unsafeUnwrapErr().kind, 'invalid-address');
  const e = (await connectHyperkitGuest(`${dir}/missing`, 3, 5))._unsafeUnwrapErr();
  assert.is(e.kind, 'os-error');
});

test.run();
