import { createServer, connect, type Socket } from 'node:net';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resetHostSocket } from '../../src/forward/host-socket-reset.js';

/** A connected pair on 127.0.0.1; `server` is the accepted side. */
async function pair(): Promise<{ server: Socket; client: Socket; close: () => void }> {
  let accepted: (s: Socket) => void;
  const got = new Promise<Socket>((r) => (accepted = r));
  const srv = createServer({ allowHalfOpen: true }, (s) => accepted(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = connect((srv.address() as { port: number }).port, '127.0.0.1');
  client.on('error', () => {});
  const server = await got;
  server.on('error', () => {});
  return { server, client, close: () => srv.close() };
}

test('a reset after our FIN started closes the socket and lets the process exit (Node wedges on resetAndDestroy)', async () => {
  // The failure mode is a process that never exits, so the scenario runs in a child with a deadline.
  const script = `
    import net from 'node:net';
    import { resetHostSocket } from ${JSON.stringify(new URL('../../src/forward/host-socket-reset.ts', import.meta.url).pathname)};
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.on('end', () => { s.end(); resetHostSocket(s); srv.close(); });
      s.resume();
    });
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => c.end());
      c.on('error', () => {});
      c.resume();
    });`;
  const r = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false, timeout: 10_000 });
  assert.is(r.timedOut, false, 'the process exited');
  assert.is(r.exitCode, 0, r.stderr);
});

test('a reset before any FIN sends RST: the peer sees ECONNRESET', async () => {
  const { server, client, close } = await pair();
  const err = new Promise<string | undefined>((r) => {
    client.once('error', (e: NodeJS.ErrnoException) => r(e.code));
    client.once('end', () => r('end'));
  });
  client.resume();
  resetHostSocket(server);
  assert.is(await err, 'ECONNRESET');
  close();
});

test.run();
