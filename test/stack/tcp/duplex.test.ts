/** The Node Duplex adapter: data both ways, backpressure to the window, half-close, reset as an error. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionDuplex } from '../../../src/stack/tcp/duplex.js';
import { GuestPair, until } from '../../harness/tcp/guest-pair.js';
import { createServer, type AddressInfo, type Socket } from 'node:net';

async function echoServer(): Promise<{ port: number; close: () => void; socks: Socket[] }> {
  const socks: Socket[] = [];
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    socks.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, close: () => (srv.close(), socks.forEach((s) => s.destroy())), socks };
}

test('a Duplex over a guest connection pipes data both ways and half-closes', async () => {
  const srv = await echoServer();
  const pair = new GuestPair();
  const g = pair.connect(srv.port);
  const d = new ConnectionDuplex(g.conn);
  const chunks: Buffer[] = [];
  d.on('data', (b: Buffer) => chunks.push(b));
  let ended = false;
  d.on('end', () => (ended = true));
  const payload = Buffer.alloc(3 << 20, 7);
  d.end(payload);
  await until(() => ended, 'echo and EOF');
  assert.is(Buffer.concat(chunks).length, payload.length);
  srv.close();
});

test('a paused reader closes the window; resuming reopens it', async () => {
  const srv = await echoServer();
  const pair = new GuestPair({ guestConfig: { receiveBuffer: 64 * 1024 } });
  const g = pair.connect(srv.port);
  const d = new ConnectionDuplex(g.conn);
  d.pause();
  d.write(Buffer.alloc(1 << 20, 1));
  await until(() => g.established && g.conn.rcvAdvEdge === g.conn.rcvNxt && d.readableLength > 0, 'window closed by the unread bytes');
  assert.ok(d.readableLength >= 64 * 1024 - 1460);
  let got = d.readableLength;
  d.on('data', (b: Buffer) => (got += b.length));
  d.resume();
  await until(() => got >= 1 << 20, 'everything after resuming');
  d.destroy();
  srv.close();
});

test('a reset surfaces as ECONNRESET', async () => {
  const srv = await echoServer();
  const pair = new GuestPair();
  const g = pair.connect(srv.port);
  const d = new ConnectionDuplex(g.conn);
  let code = '';
  d.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? ''));
  await until(() => g.established && srv.socks.length === 1, 'established');
  srv.socks[0]!.resetAndDestroy();
  await until(() => code !== '', 'error');
  assert.is(code, 'ECONNRESET');
  srv.close();
});

test.run();
