import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { duplexPair } from '../harness/duplex-pair.js';

const dir = mkdtempSync(join(tmpdir(), 'vnk-nicr-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function call(sock: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test('the control API conditions a NIC at runtime and reports it; bad specs and unknown NICs are 4xx', async () => {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ dnsUpstreams: ['127.0.0.1:9'], runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(5) } })._unsafeUnwrap();
  const [ours] = duplexPair();
  const nic = net.attach(ours, { framing: 'qemu' })._unsafeUnwrap();
  const sock = join(dir, 'c.sock');
  (await net.serveControl(sock))._unsafeUnwrap();

  const list = await call(sock, 'GET', '/nics');
  assert.is(list.status, 200);
  assert.equal((list.body as Array<{ id: number }>).map((n) => n.id), [nic.id]);
  const [entry] = list.body as Array<Record<string, unknown>>;
  assert.equal([entry!.tcpFlows, entry!.udpFlows, entry!.icmpFlows], [0, 0, 0], 'open flow counts per NIC, none yet');

  const set = await call(sock, 'POST', `/nics/${nic.id}/condition`, { latencyMs: 20, lossPct: 5, seed: 1 });
  assert.is(set.status, 200, JSON.stringify(set.body));
  assert.is((set.body as { active: boolean }).active, true);
  const got = await call(sock, 'GET', `/nics/${nic.id}/condition`);
  assert.equal((got.body as { spec: { latencyMs: number } }).spec.latencyMs, 20);

  const bad = await call(sock, 'POST', `/nics/${nic.id}/condition`, { lossPct: 150 });
  assert.is(bad.status, 400);
  assert.match((bad.body as { error: string }).error, /lossPct/);
  assert.is((await call(sock, 'POST', '/nics/999/condition', { latencyMs: 1 })).status, 404);
  assert.is((await call(sock, 'POST', `/nics/${nic.id}/condition`, [1])).status, 400);

  const off = await call(sock, 'POST', `/nics/${nic.id}/condition`, null);
  assert.is(off.status, 200);
  assert.is((off.body as { active: boolean }).active, false);
  await net.close();
});

test.run();
