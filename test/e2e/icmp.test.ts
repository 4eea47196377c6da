/**
 * Honest ICMP end to end: a real Linux kernel in a namespace guest (192.168.65.10/24 via the
 * gateway) runs iputils `ping` across a VirtualNetwork whose echo forwarder uses real ping sockets.
 *
 * Ping sockets obey `net.ipv4.ping_group_range`, a per-namespace sysctl. So that nothing on the
 * machine changes, this file re-runs itself inside `unshare --net`: vnetkit and its ping sockets
 * live in a private namespace (its 127.0.0.0/8 is the only "host" there), first with the default
 * range "1 0" (no ping sockets), then with ping sockets allowed. Guests are `ip netns` namespaces
 * as usual. Pings leave the gateway only toward 127.0.0.0/8 of that namespace: the guest cannot
 * route 127/8 itself, so the test maps 198.18.0.1 (a benchmarking range, RFC 2544) to 127.0.0.2
 * and 198.18.0.5 to 127.0.0.5, which the egress policy denies. Every other destination outside
 * 127.0.0.0/8 is denied by `allow: ['127.0.0.0/8']`.
 * Needs root, `unshare`, `ping` and the native addon; otherwise skipped with the reason printed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FlowEventHub, type FlowOpenEvent } from '../../src/forward/flow-events.js';
import { IcmpEchoForwarder } from '../../src/forward/icmp-echo.js';
import { icmpEchoSender } from '../../src/forward/icmp-echo-io.js';
import { loadNative } from '../../src/native/index.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';

const CHILD_ENV = 'VNETKIT_E2E_ICMP_NETNS';
const inside = process.env[CHILD_ENV] === '1';
const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));

if (!inside) {
  const native = loadNative();
  const skip = e2eSkipReason(['ping', 'unshare']) ?? (native.isErr() ? native.error.message : undefined);
  if (skip) console.log(`SKIP test/e2e/icmp.test.ts: ${skip}`);
  (skip ? test.skip : test)('ICMP end to end, inside a private network namespace (child run below)', async () => {
    const child = spawn('unshare', ['--net', '--', process.execPath, '--import', 'tsx', '--import', './test/setup.ts', self], {
      cwd: root,
      env: { ...process.env, [CHILD_ENV]: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 180_000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(timer);
    console.log(out.replace(/^/gm, '    | '));
    assert.is(code, 0, `child exit ${code}`);
    assert.match(out, /Passed:\s+6\b/, 'all six namespace tests ran');
  });
} else {
  const GATEWAY = '192.168.65.1';
  const ALIAS = '192.168.65.254';
  const MAPPED = '198.18.0.1';
  const MAPPED_DENIED = '198.18.0.5';
  const hostOf = new Map([
    [parseIpv4(MAPPED)!, parseIpv4('127.0.0.2')!],
    [parseIpv4(MAPPED_DENIED)!, parseIpv4('127.0.0.5')!],
  ]);
  const dir = mkdtempSync('/tmp/vnk-icmp-');
  let net: VirtualNetwork | undefined;
  let fwd: IcmpEchoForwarder | undefined;
  const logs: string[] = [];
  const opens: FlowOpenEvent[] = [];

  test.after.each(async () => {
    await closeAllGuests();
    fwd?.close();
    await net?.close();
    net = undefined;
  });
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  /** A network with the forwarder installed as the facade will install it, and one guest on it. */
  async function start(): Promise<Guest> {
    logs.length = 0;
    opens.length = 0;
    const logger = { error: () => {}, warn: (m: string) => logs.push(m), info: () => {}, debug: () => {} };
    net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], deny: ['127.0.0.5/32'], logger })._unsafeUnwrap();
    const n = net;
    fwd = new IcmpEchoForwarder({
      runtime: n.runtime,
      sender: icmpEchoSender(n.fragmenter, n.icmp),
      policy: n.egress,
      // The network's map (alias → 127.0.0.1) plus this test's two mappings.
      addressMap: { toHost: (ip) => hostOf.get(ip) ?? n.addressMap.toHost(ip), toGuest: (ip, dst) => n.addressMap.toGuest(ip, dst) },
      isLocal: (ip) => n.gateway.isGuestAddress(ip),
      logger,
      flowEvents: new FlowEventHub({ clock: n.runtime.clock, listening: () => true, onOpen: (e) => opens.push(e), onClose: () => {} }),
    });
    n.icmp.forwardEcho = fwd.input;
    const sock = join(dir, `qemu-${process.hrtime.bigint()}.sock`);
    (await n.listenQemu(sock))._unsafeUnwrap();
    const g = await createGuest({ socketPath: sock, framing: 'qemu' });
    await g.setAddress('192.168.65.10/24');
    await g.setDefaultRoute(GATEWAY);
    return g;
  }

  /** `ping` in the guest; the output is printed as evidence and returned. */
  async function ping(g: Guest, dst: string, count: number, extra: string[] = []): Promise<{ out: string; code: number }> {
    const r = await g.exec(['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', ...extra, dst], { reject: false, timeoutMs: 30_000 });
    const out = `${r.stdout}`;
    console.log(`  guest$ ping ${[...extra, dst].join(' ')}\n${out.replace(/^/gm, '    ')}`);
    return { out, code: r.exitCode ?? -1 };
  }
  const replies = (out: string, from: string): number => out.split('\n').filter((l) => l.includes(`bytes from ${from}:`)).length;

  test('ping_group_range "1 0" (no ping sockets): a ping beyond the gateway gets no reply, is counted, logged once', async () => {
    const g = await start();
    const r = await ping(g, MAPPED, 2);
    assert.is(replies(r.out, MAPPED), 0, 'nothing forged');
    assert.is(net!.stats().gateway.echoDropped, 2);
    assert.is(fwd!.stats.requests, 0);
    assert.is(logs.length, 1, `one warning: ${JSON.stringify(logs)}`);
    assert.match(logs[0]!, /ping_group_range is '1 0'.*sysctl -w net\.ipv4\.ping_group_range=/);
  });

  test('the gateway answers its own address itself', async () => {
    // From here on ping sockets are allowed, in this private namespace only.
    writeFileSync('/proc/sys/net/ipv4/ping_group_range', '0 2147483647');
    spawnSync('ip', ['link', 'set', 'lo', 'up']);
    const g = await start();
    const r = await ping(g, GATEWAY, 3);
    assert.is(replies(r.out, GATEWAY), 3);
    assert.is(net!.stats().gateway.echoReplies, 3);
    assert.is(fwd!.stats.requests, 0, 'not forwarded');
  });

  test('the host-loopback alias is answered by the gateway (it owns the alias)', async () => {
    const g = await start();
    const r = await ping(g, ALIAS, 2);
    assert.is(replies(r.out, ALIAS), 2);
    assert.is(net!.stats().gateway.echoReplies, 2);
    assert.is(fwd!.stats.requests, 0);
  });

  test('an address mapped to 127.0.0.2 is answered by the host kernel through the ping socket (also 3000-byte pings)', async () => {
    const g = await start();
    const r = await ping(g, MAPPED, 3);
    assert.is(replies(r.out, MAPPED), 3, 'the guest sees the address it pinged');
    const big = await ping(g, MAPPED, 1, ['-s', '3000']);
    assert.match(big.out, /3008 bytes from 198\.18\.0\.1/, 'reassembled, forwarded, answered and fragmented back');
    assert.is(fwd!.stats.replies, 4);
    assert.is(net!.stats().gateway.echoReplies, 0, "the gateway's own echo counter did not move");
    const [flow] = fwd!.table();
    assert.is(flow!.host, '127.0.0.2', 'the request really went to 127.0.0.2');
    assert.ok(flow!.hostId > 0, 'through a ping socket with a kernel identifier');
    assert.equal(
      [opens[0]!.protocol, opens[0]!.remote.ip, opens[0]!.host.ip, opens[0]!.host.port === flow!.hostId],
      ['icmp', MAPPED, '127.0.0.2', true],
    );
    console.log(`  flow: guest id ${flow!.id} → kernel id ${flow!.hostId}, ${flow!.destination} → ${flow!.host}`);
  });

  test('a destination the policy denies (127.0.0.5) gets no echo reply, "Packet filtered", and nothing is sent', async () => {
    const g = await start();
    const r = await ping(g, MAPPED_DENIED, 2);
    assert.is(replies(r.out, MAPPED_DENIED), 0);
    assert.match(r.out, /Packet filtered/);
    assert.is(fwd!.stats.denied, 2);
    assert.is(fwd!.stats.requests, 0, 'no request left the gateway');
    assert.is(fwd!.stats.opened, 0, 'no socket was opened');
  });

  test('an unassigned guest-subnet address gets no reply and nothing is sent', async () => {
    const g = await start();
    const r = await ping(g, '192.168.65.99', 1);
    assert.is(replies(r.out, '192.168.65.99'), 0);
    assert.is(fwd!.stats.requests, 0);
    assert.is(net!.stats().gateway.echoReplies, 0);
  });
}

test.run();
