/**
 * Long-lived TCP end to end: a real Linux kernel in a namespace guest holds an idle connection
 * through the host-loopback alias to an echo server this test starts on 127.0.0.1. The guest
 * writes, stays silent for 8 s, writes again; its keepalive timers are shortened with `sysctl`
 * inside the guest namespace only (1 s idle, 1 s interval), and socat's `keepalive` turns
 * SO_KEEPALIVE on. Shows: nothing cuts an idle flow by default; with `tcpIdleTimeoutMs` (3 s here)
 * the guest's keepalive probes are answered and keep the flow, while a silent flow is reset both
 * ways and reported `idle`. (Hours of idle time are covered on the injected clock in
 * test/forward/long-lived.test.ts.) Needs root and socat; otherwise skipped with the reason printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FlowCloseEvent } from '../../src/forward/flow-events.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { waitUntil, withTimeout } from './harness/probes.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { HostServers } from './harness/host-servers.js';

const skip = e2eSkipReason(['socat', 'sysctl']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/long-lived.test.ts: ${skip}`);

const ALIAS = '192.168.65.254';
const IDLE_S = 8;
const KEEPALIVE_SYSCTL = '/proc/sys/net/ipv4/tcp_keepalive_time';
let dir = '';
let net: VirtualNetwork | undefined;
let ownKeepaliveTime = '';
const hosts = new HostServers();

test.before(() => {
  if (skip) return;
  dir = mkdtempSync('/tmp/vnk-longlived-');
  ownKeepaliveTime = readFileSync(KEEPALIVE_SYSCTL, 'utf8');
});
test.after.each(async () => {
  await closeAllGuests();
  await net?.close();
  net = undefined;
  hosts.closeAll();
  // The guest's sysctls are its own namespace's: this process's value never changed.
  if (!skip) assert.is(readFileSync(KEEPALIVE_SYSCTL, 'utf8'), ownKeepaliveTime);
});
test.after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

interface Run {
  /** What the guest read back (the echo). */
  guestOut: string;
  guestErr: string;
  /** What the host server received, and how its socket ended. */
  hostGot: string;
  hostError: string;
  /** Segments the gateway's TCP received from the guest while both sides were silent. */
  segmentsWhileIdle: number;
  closes: FlowCloseEvent[];
}

/** Network (optionally with an idle timeout), echo server, guest; then the write-idle-write exchange. */
async function exchange(opts: { idleTimeoutMs?: number; keepalive: boolean }): Promise<Run> {
  const n = VirtualNetwork.create({ allow: ['127.0.0.0/8'], ...(opts.idleTimeoutMs !== undefined ? { tcpIdleTimeoutMs: opts.idleTimeoutMs } : {}) })._unsafeUnwrap();
  net = n;
  const closes: FlowCloseEvent[] = [];
  n.on('flow-close', (e) => closes.push(e));
  let hostGot = '';
  let hostError = '';
  const { port } = await hosts.listen((s) => {
    s.on('data', (b: Buffer) => {
      hostGot += b.toString();
      s.write(b);
    });
    s.on('end', () => s.end());
    s.on('error', (e: NodeJS.ErrnoException) => (hostError = e.code ?? 'error'));
  });
  const sock = join(dir, `qemu-${process.hrtime.bigint()}.sock`);
  (await n.listenQemu(sock))._unsafeUnwrap();
  const g: Guest = await createGuest({ socketPath: sock, framing: 'qemu' });
  await g.setAddress('192.168.65.10/24');
  await g.setDefaultRoute('192.168.65.1');
  // Inside the guest namespace only: probe after 1 s of silence, every 1 s, give up after 5.
  await g.exec(['sysctl', '-q', '-w', 'net.ipv4.tcp_keepalive_time=1', 'net.ipv4.tcp_keepalive_intvl=1', 'net.ipv4.tcp_keepalive_probes=5']);
  const addr = `TCP:${ALIAS}:${port}${opts.keepalive ? ',keepalive' : ''}`;
  const proc = g.spawn(['sh', '-c', `(printf first; sleep ${IDLE_S}; printf second) | socat -t 5 - ${addr}`]);
  await waitUntil('the first write to reach the host', () => hostGot === 'first', { intervalMs: 20 });
  await new Promise((r) => setTimeout(r, 500)); // the echo and its ACK settle
  const before = n.tcp.stats().segmentsIn;
  await new Promise((r) => setTimeout(r, (IDLE_S - 3) * 1000));
  const segmentsWhileIdle = n.tcp.stats().segmentsIn - before;
  const r = await withTimeout('the guest socat to finish', proc, 30_000);
  await waitUntil('the flow-close', () => closes.length > 0);
  return { guestOut: String(r.stdout), guestErr: String(r.stderr), hostGot, hostError, segmentsWhileIdle, closes };
}

it(`by default an idle connection stays open: ${IDLE_S} s of silence, no keepalive, then data both ways`, async () => {
  const r = await exchange({ keepalive: false });
  assert.is(r.segmentsWhileIdle, 0, 'nothing crossed while idle');
  assert.is(r.guestOut, 'firstsecond');
  assert.is(r.hostGot, 'firstsecond');
  assert.equal([r.closes.length, r.closes[0]!.closeReason], [1, 'closed']);
});

it('with tcpIdleTimeoutMs 3 s, the guest kernel\'s keepalive probes are answered and keep the flow', async () => {
  const r = await exchange({ idleTimeoutMs: 3000, keepalive: true });
  console.log(`  ${r.segmentsWhileIdle} segments from the guest during 5 idle seconds (keepalive probes)`);
  assert.ok(r.segmentsWhileIdle >= 3, `keepalive probes arrived while idle (${r.segmentsWhileIdle} segments in 5 s)`);
  assert.is(r.guestOut, 'firstsecond', 'the guest would have given up after 5 unanswered probes');
  assert.is(r.hostGot, 'firstsecond');
  assert.equal([r.closes.length, r.closes[0]!.closeReason], [1, 'closed']);
  assert.is(net!.tcpOut.stats().idleClosed, 0);
});

it('with tcpIdleTimeoutMs 3 s and no keepalive, the silent flow is reset both ways and reported idle', async () => {
  const r = await exchange({ idleTimeoutMs: 3000, keepalive: false });
  assert.is(r.hostGot, 'first', 'the second write never reached the host');
  assert.is(r.hostError, 'ECONNRESET', 'the host application saw a reset');
  assert.match(r.guestErr, /Connection reset by peer|Broken pipe/);
  assert.equal([r.closes.length, r.closes[0]!.closeReason, r.closes[0]!.bytesFromGuest, r.closes[0]!.bytesToGuest], [1, 'idle', 5, 5]);
  assert.ok(r.closes[0]!.durationMs >= 3000);
  assert.is(net!.tcpOut.stats().idleClosed, 1);
});

test.run();
