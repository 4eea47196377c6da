import type { Server, Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  connectHybrid,
  formatConnectLine,
  hybridGuestPortPath,
  listenHybrid,
  listenHybridGuestPort,
  parseConnectLine,
  parseOkLine,
} from '../../../adapters/hvsock/hybrid-vsock.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { closedWith, collect, destroyTracked, rawConnect, rawServer, tempDir, track } from './hvsock-test-helpers.js';

const { dir, cleanup } = tempDir();
const servers: Server[] = [];
let n = 0;
const path = (): string => `${dir}/vmm${n++}.sock`;
const keep = (s: Server): Server => (servers.push(s), s);

test.after(() => {
  destroyTracked();
  for (const s of servers) s.close();
  cleanup();
});

test('line codecs: CONNECT is decimal and case-insensitive; OK carries the host port', () => {
  assert.is(formatConnectLine(62373), 'CONNECT 62373\n');
  assert.is(parseConnectLine('CONNECT 52\n')._unsafeUnwrap(), 52);
  assert.is(parseConnectLine('connect 4294967295\n')._unsafeUnwrap(), 4294967295);
  for (const bad of ['CONNECT 4294967296\n', 'CONNECT 52', 'CONNECT  52\n', 'CONNECT -1\n', 'CONNECT 0x10\n', 'HELLO 1\n', 'CONNECT 52\r\n']) {
    const r = parseConnectLine(bad);
    assert.ok(r.isErr(), JSON.stringify(bad));
    assert.is(r._unsafeUnwrapErr().reason, 'malformed');
  }
  assert.is(parseOkLine('OK 1073741824\n')._unsafeUnwrap(), 1073741824);
  assert.ok(parseOkLine('NO 1\n').isErr());
  assert.is(hybridGuestPortPath('/run/v.sock', 52), '/run/v.sock_52');
});

test('handshake both sides: CONNECT/OK, host port reported, payload flows both ways', async () => {
  const p = path();
  const got = new Promise<{ port: number; data: string; hostPort: number }>((resolve) => {
    void listenHybrid(p, (port, stream, hostPort) => {
      track(stream);
      stream.once('data', (d: Buffer) => {
        stream.end(`echo:${d.toString()}`);
        resolve({ port, data: d.toString(), hostPort });
      });
    }).map(keep);
  });
  await new Promise((r) => setImmediate(r));
  const c = (await connectHybrid(p, 62373))._unsafeUnwrap();
  track(c.stream);
  c.stream.write('hi');
  const reply = collect(c.stream);
  const seen = await got;
  assert.equal(seen, { port: 62373, data: 'hi', hostPort: c.hostPort });
  assert.is(c.hostPort, 2 ** 30);
  assert.is((await reply).toString(), 'echo:hi');
  c.stream.destroy();
});

test('client: bytes after the OK newline stay in the stream', async () => {
  const p = path();
  keep(await rawServer(p, (s) => s.once('data', () => s.end('OK 77\nPAYLOAD-AFTER-OK'))));
  const c = (await connectHybrid(p, 5))._unsafeUnwrap();
  track(c.stream);
  assert.is(c.hostPort, 77);
  assert.is((await collect(c.stream)).toString(), 'PAYLOAD-AFTER-OK');
});

test('client: refusal (close without reply) is handshake-failed/refused', async () => {
  const p = path();
  keep(await rawServer(p, (s) => s.once('data', () => s.destroy())));
  const e = (await connectHybrid(p, 5))._unsafeUnwrapErr();
  assert.is(e.kind, 'handshake-failed');
  assert.is('reason' in e && e.reason, 'refused');
});

test('client: garbage reply line and over-long line are rejected', async () => {
  const p1 = path();
  keep(await rawServer(p1, (s) => s.once('data', () => s.write('FAILED\n'))));
  const e1 = (await connectHybrid(p1, 5))._unsafeUnwrapErr();
  assert.is('reason' in e1 && e1.reason, 'malformed');
  const p2 = path();
  keep(await rawServer(p2, (s) => s.once('data', () => s.write('OK ' + '1'.repeat(40)))));
  const e2 = (await connectHybrid(p2, 5))._unsafeUnwrapErr();
  assert.is('reason' in e2 && e2.reason, 'too-long');
  const p3 = path();
  keep(await rawServer(p3, (s) => s.once('data', () => s.end('OK 1'))));
  const e3 = (await connectHybrid(p3, 5))._unsafeUnwrapErr();
  assert.is('reason' in e3 && e3.reason, 'closed', 'closed mid-line');
});

test('client: no reply at all times out (driven by a manual scheduler, no sleeping)', async () => {
  const p = path();
  keep(await rawServer(p, () => {}));
  const scheduler = new ManualScheduler();
  const pending = connectHybrid(p, 5, { timeoutMs: 1000, scheduler });
  for (let i = 0; i < 20 && scheduler.size === 0; i++) await new Promise((r) => setImmediate(r));
  assert.is(scheduler.size, 1, 'deadline armed');
  scheduler.advance(999);
  assert.is(scheduler.size, 1, 'not yet');
  scheduler.advance(1);
  const e = (await pending)._unsafeUnwrapErr();
  assert.is('reason' in e && e.reason, 'timeout');
});

test('client: connecting to a missing socket is an os-error', async () => {
  const e = (await connectHybrid(`${dir}/nothing.sock`, 5))._unsafeUnwrapErr();
  assert.is(e.kind, 'os-error');
  assert.is('code' in e && e.code, 'ENOENT');
});

test('server: payload sent with the CONNECT line is preserved; split lines and lowercase work', async () => {
  const p = path();
  const seen: Array<{ port: number; data: Promise<Buffer> }> = [];
  keep(
    (
      await listenHybrid(p, (port, stream) => {
        track(stream);
        seen.push({ port, data: collect(stream) });
        stream.end(); // half-close: the client sees OK then EOF, and can still send
      })
    )._unsafeUnwrap(),
  );
  const a = await rawConnect(p);
  const aReply = collect(a);
  a.end('CONNECT 1234\nhello after newline');
  const b = await rawConnect(p);
  const bReply = collect(b);
  b.write('conn');
  await new Promise((r) => setImmediate(r));
  b.write('ect 99\n');
  b.end('x');
  assert.match((await aReply).toString(), /^OK \d+\n$/);
  assert.match((await bReply).toString(), /^OK \d+\n$/);
  const byPort = new Map(await Promise.all(seen.map(async (s) => [s.port, (await s.data).toString()] as const)));
  assert.is(byPort.get(1234), 'hello after newline');
  assert.is(byPort.get(99), 'x');
});

test('server: refusal, garbage, over-long and short requests are closed without a reply', async () => {
  const p = path();
  let delivered = 0;
  keep((await listenHybrid(p, (_port, s) => (track(s), delivered++), { accept: (port) => port !== 7 }))._unsafeUnwrap());
  const attempts: Array<[string, (s: Socket) => void]> = [
    ['refused port', (s) => s.write('CONNECT 7\n')],
    ['garbage', (s) => s.write('GET / HTTP/1.1\r\n')],
    ['over-long', (s) => s.write('CONNECT ' + '9'.repeat(40))],
    ['short read then EOF', (s) => s.end('CONN')],
  ];
  for (const [what, send] of attempts) {
    const s = await rawConnect(p);
    const got = closedWith(s);
    send(s);
    assert.is((await got).length, 0, `${what}: no reply bytes`);
  }
  assert.is(delivered, 0);
});

test('guest-initiated: listening on <uds>_<port> receives raw streams', async () => {
  const uds = `${dir}/guest.sock`;
  const got = new Promise<string>((resolve) => {
    void listenHybridGuestPort(uds, 1024, (s) => collect(track(s)).then((b) => resolve(b.toString()))).map(keep);
  });
  await new Promise((r) => setImmediate(r));
  const s = await rawConnect(`${uds}_1024`);
  s.end('from the guest');
  assert.is(await got, 'from the guest');
  assert.ok((await listenHybridGuestPort(uds, 2 ** 32, () => {})).isErr(), 'out-of-range port');
});

test.run();
