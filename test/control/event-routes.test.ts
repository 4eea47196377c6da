import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseServeFlags } from '../../src/cli/flags.js';
import { parseEventGroups } from '../../src/control/event-routes.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { duplexPair } from '../harness/duplex-pair.js';

const dir = mkdtempSync(join(tmpdir(), 'vnk-ev-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('GET /events streams the asked-for events as JSON lines until the client leaves', async () => {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ dnsUpstreams: ['127.0.0.1:9'], runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(5) } })._unsafeUnwrap();
  const sock = join(dir, 'c.sock');
  (await net.serveControl(sock))._unsafeUnwrap();
  const lines: Array<{ event: string; id?: number }> = [];
  const req = request({ socketPath: sock, path: '/events?types=nic' });
  const gotHeaders = new Promise<number>((resolve) =>
    req.on('response', (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          lines.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
      resolve(res.statusCode ?? 0);
    }),
  );
  req.on('error', () => {});
  req.end();
  assert.is(await gotHeaders, 200);
  assert.is(net.listenerCount('nic-attached'), 1, 'subscribed while the client listens');
  const [ours] = duplexPair();
  const nic = net.attach(ours, { framing: 'qemu' })._unsafeUnwrap();
  nic.close('test');
  while (lines.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(lines.map((l) => [l.event, l.id]), [['nic-attached', nic.id], ['nic-detached', nic.id]]);
  req.destroy();
  while (net.listenerCount('nic-attached') > 0) await new Promise((r) => setTimeout(r, 5));
  await net.close();
});

test('event groups parse, and unknown ones are named', () => {
  assert.equal(parseEventGroups('flow,dns'), ['flow', 'dns']);
  assert.equal(parseEventGroups(undefined), ['nic', 'lease', 'error']);
  assert.match(String(parseEventGroups('flow,bogus')), /bogus/);
  const e = parseServeFlags(['--qemu', '/x', '--events', 'flows'])._unsafeUnwrapErr();
  assert.is(e.flag, '--events');
  assert.equal(parseServeFlags(['--qemu', '/x', '--events', 'flow,dns'])._unsafeUnwrap().events, ['flow', 'dns']);
});

test.run();
