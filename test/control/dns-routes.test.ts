import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { VirtualNetwork } from '../../src/virtual-network.js';

const dir = mkdtempSync(join(tmpdir(), 'vnk-dnsr-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function call(sock: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test('DNS records are listed, added and removed through the control API; bad bodies are 400', async () => {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ dnsUpstreams: ['127.0.0.1:9'], runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(5) } })._unsafeUnwrap();
  const sock = join(dir, 'c.sock');
  (await net.serveControl(sock))._unsafeUnwrap();
  const state = await call(sock, 'GET', '/services/dns');
  assert.is(state.status, 200);
  assert.is((state.body as { mode: string }).mode, 'upstream');
  assert.is((await call(sock, 'POST', '/services/dns/records', { name: 'db.test', type: 'A', data: '10.1.2.3' })).status, 200);
  const list = (await call(sock, 'GET', '/services/dns/records')).body as Array<{ name: string; data: unknown; source: string }>;
  assert.ok(list.some((r) => r.name === 'db.test' && r.data === '10.1.2.3' && r.source === 'user'));
  assert.is((await call(sock, 'POST', '/services/dns/records', { name: 'x.test', type: 'MX', data: 'y' })).status, 400);
  assert.is((await call(sock, 'POST', '/services/dns/records', { name: 'x.test', type: 'A', data: 'not-an-ip' })).status, 400);
  assert.is((await call(sock, 'DELETE', '/services/dns/records?name=db.test&type=A')).status, 200);
  assert.is((await call(sock, 'DELETE', '/services/dns/records?name=db.test&type=A')).status, 404);
  assert.is((await call(sock, 'POST', '/services/dns/reload')).status, 200);
  await net.close();
});

test.run();
