/**
 * Large UDP datagrams end to end: a Linux network-namespace guest (MTU 1500, QEMU stream framing)
 * sends datagrams of 1472 (fits one frame), 1473 (two fragments), 8 KiB, 60 KiB and 65,507 bytes
 * (the IPv4 maximum) to a UDP echo server on host 127.0.0.1 through the host-loopback alias
 * 192.168.65.254. The guest's kernel fragments them; the gateway reassembles them for the NAT; the
 * echoes come back through the fragmenter and the guest's kernel reassembles them. Every byte is
 * compared on both sides. Needs root on Linux (see `e2eSkipReason`); otherwise skipped.
 *
 * The reassembler, the fragmenter and the PMTU guard are wired here from the network's public
 * fields, the way docs-site/guides/mtu-and-fragments.md asks the facade to wire them.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { Drop } from '../../src/wire/drop.js';
import { closeAllGuests, createGuest, e2eSkipReason } from './harness/netns.js';
import { sha } from '../harness/bytes.js';

const skip = e2eSkipReason();
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/udp-large.test.ts: ${skip}`);

const ALIAS = '192.168.65.254';
const SIZES = [1472, 1473, 8 * 1024, 60 * 1024, 65507];

let dir = '';
let net: VirtualNetwork | undefined;
let server: Socket | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-udp-');
});
test.after.each(async () => {
  await closeAllGuests();
  await net?.close();
  server?.close();
  net = undefined;
  server = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The facade's fragmentation pieces, for the counters the tests read. */
function wireFragmentation(n: VirtualNetwork) {
  return { reassembler: n.reassembler, fragmenter: n.fragmenter, guard: n.pmtu };
}

/** Runs in the guest (CommonJS under `node -e`): sends each size, waits for its echo, reports. */
const GUEST_CLIENT = `
const dgram = require('node:dgram');
const { createHash } = require('node:crypto');
const [host, port, ...sizes] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const fill = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 131 + n) & 0xff; return b; };
const echo = (n) => new Promise((resolve) => {
  const t = setTimeout(() => { s.off('message', on); resolve(undefined); }, 5000);
  function on(m) { if (m.length === n) { clearTimeout(t); s.off('message', on); resolve(m); } }
  s.on('message', on);
});
s.connect(Number(port), host, async () => {
  const out = [];
  for (const n of sizes.map(Number)) {
    const data = fill(n);
    let got, attempts = 0;
    while (got === undefined && attempts < 3) { attempts++; s.send(data); got = await echo(n); }
    out.push({ size: n, attempts, sent: createHash('sha256').update(data).digest('hex'), back: got && createHash('sha256').update(got).digest('hex') });
  }
  console.log(JSON.stringify(out));
  s.close();
});`;


it('UDP of 1472 B to 65,507 B crosses guest (MTU 1500) ⇄ 127.0.0.1 intact both ways, fragmented and reassembled', async () => {
  server = createSocket('udp4');
  const received = new Map<number, string>();
  server.on('message', (m, from) => {
    received.set(m.length, sha(m));
    server!.send(m, from.port, from.address);
  });
  await new Promise<void>((r) => server!.bind(0, '127.0.0.1', r));
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const { reassembler, fragmenter } = wireFragmentation(net);
  const sock = join(dir, 'q.sock');
  (await net.listenQemu(sock))._unsafeUnwrap();
  const g = await createGuest({ socketPath: sock, framing: 'qemu', mtu: 1500 });
  await g.setAddress('192.168.65.2/24');

  const r = await g.exec([process.execPath, '-e', GUEST_CLIENT, ALIAS, String(server.address().port), ...SIZES.map(String)], { timeoutMs: 90_000 });
  const results = JSON.parse(r.stdout.trim()) as Array<{ size: number; attempts: number; sent: string; back?: string }>;
  for (const x of results) {
    assert.is(received.get(x.size), x.sent, `host server received the ${x.size}-byte datagram intact`);
    assert.is(x.back, x.sent, `guest received the ${x.size}-byte echo intact (${x.attempts} attempt(s))`);
  }
  assert.is(results.length, SIZES.length);
  // 1472 fits one frame; the four others were fragmented by the guest and by us.
  assert.ok(reassembler.stats.reassembled >= 4, JSON.stringify(reassembler.stats));
  assert.ok(fragmenter.stats.fragmented >= 4, JSON.stringify(fragmenter.stats));
  assert.is(reassembler.stats.overlaps + reassembler.stats.invalid + reassembler.stats.oversize, 0, JSON.stringify(reassembler.stats));
  assert.is(net.gateway.counters.drops[Drop.Fragment], 0, 'no fragment dropped by the gateway');
  assert.is(net.udpNat.stats.dropped, 0, 'no reply refused as too big');
});

test.run();
