/**
 * The echo forwarder against the real kernel: a VirtualNetwork with an in-process guest (frames
 * through a CapturePort) pings 127.0.0.0/8 addresses through real ping sockets. A guest may not
 * name 127/8 itself (address-map.ts), so the test maps 198.18.0.1 (a benchmarking range, RFC
 * 2544) to 127.0.0.1 and 198.18.0.5 to 127.0.0.5, which the egress policy denies.
 *
 * Ping sockets need `net.ipv4.ping_group_range`, a per-namespace sysctl. So that nothing on the
 * machine changes, this file re-runs itself inside `unshare --net` (a namespace that dies with
 * the child), where it first checks the default range ("1 0": EACCES, dropped, logged once), then
 * allows ping sockets and brings `lo` up. Only 127.0.0.0/8 inside that namespace is pinged.
 * Needs Linux, root, `unshare` and the native addon; otherwise skipped with the reason printed.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IcmpEchoForwarder } from '../../src/forward/icmp-echo.js';
import { icmpEchoSender } from '../../src/forward/icmp-echo-io.js';
import { loadNative } from '../../src/native/index.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { CapturePort } from '../harness/capture-port.js';
import { icmpEcho } from '../harness/frames.js';

const CHILD_ENV = 'VNETKIT_ICMP_KERNEL_NETNS';
const inside = process.env[CHILD_ENV] === '1';
const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const GW_MAC = 'f6:16:36:bc:f9:c6';
const G1_MAC = '02:00:00:00:00:10';
const MAPPED = '198.18.0.1';
const MAPPED_DENIED = '198.18.0.5';
const hostOf = new Map([
  [parseIpv4(MAPPED)!, parseIpv4('127.0.0.1')!],
  [parseIpv4(MAPPED_DENIED)!, parseIpv4('127.0.0.5')!],
]);

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root for unshare --net';
  const n = loadNative();
  if (n.isErr()) return n.error.message;
  const r = spawnSync('unshare', ['--net', '--', 'true']);
  if (r.error) return `unshare not runnable: ${r.error.message}`;
  if (r.status !== 0) return `unshare --net failed: ${r.stderr.toString().trim()}`;
  return undefined;
}

/** Waits on the event loop (the ping socket's replies) until `pred` holds; wall-clock bounded. */
async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function network(logs: string[]) {
  const net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], deny: ['127.0.0.5/32'] })._unsafeUnwrap();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  const fwd = new IcmpEchoForwarder({
    runtime: net.runtime,
    sender: icmpEchoSender(net.fragmenter, net.icmp),
    policy: net.egress,
    // The network's map plus this test's two mappings.
    addressMap: { toHost: (ip) => hostOf.get(ip) ?? net.addressMap.toHost(ip), toGuest: (ip, dst) => net.addressMap.toGuest(ip, dst) },
    isLocal: (a) => net.gateway.isGuestAddress(a),
    logger: { error: () => {}, warn: (m) => logs.push(m), info: (m) => logs.push(m), debug: () => {} },
  });
  net.icmp.forwardEcho = fwd.input;
  const ping = (dst: string, id: number, seq: number, data: string): void => {
    const f = icmpEcho(GW_MAC, G1_MAC, '192.168.65.10', dst, id, seq, Buffer.from(data));
    net.switch.input(nic, f, 0, f.length);
  };
  return { net, nic, fwd, ping };
}

if (!inside) {
  const why = skipReason();
  if (why !== undefined) console.log(`SKIP test/forward/icmp-echo-kernel.test.ts: ${why}`);
  (why === undefined ? test : test.skip)('the kernel round trips pass inside a private network namespace', () => {
    const r = spawnSync('unshare', ['--net', '--', process.execPath, '--import', 'tsx', '--import', './test/setup.ts', self], {
      cwd: root,
      env: { ...process.env, [CHILD_ENV]: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) console.log(out);
    assert.is(r.status, 0, `child exit ${r.status}`);
    assert.match(r.stdout, /Passed:\s+3\b/, 'all three namespace tests ran');
  });
} else {
  test('ping_group_range "1 0": the request is dropped and counted, nothing forged, the reason logged once', async () => {
    const logs: string[] = [];
    const { net, nic, fwd, ping } = network(logs);
    ping(MAPPED, 1, 1, 'a');
    ping(MAPPED, 1, 2, 'b');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(nic.take(), []);
    assert.is(net.stats().gateway.echoDropped, 2);
    assert.is(logs.length, 1);
    assert.match(logs[0]!, /EACCES.*ping_group_range is '1 0'.*sysctl -w net\.ipv4\.ping_group_range=/);
    fwd.close();
    await net.close();
  });

  test('127.0.0.1 answers through the ping socket: the guest gets the kernel reply from the address it pinged, with its own id, seq and data', async () => {
    writeFileSync('/proc/sys/net/ipv4/ping_group_range', '0 2147483647');
    spawnSync('ip', ['link', 'set', 'lo', 'up']);
    const { net, nic, fwd, ping } = network([]);
    ping(MAPPED, 0xbeef, 3, 'kernel-please');
    await until(() => nic.frames.length > 0, 'the echo reply');
    const r = nic.take()[0]!;
    assert.is(r.toString('hex', 26, 30), 'c6120001', 'from 198.18.0.1, the address the guest pinged');
    assert.is(r[34], 0, 'echo reply');
    assert.is(r.readUInt16BE(38), 0xbeef, 'the guest id, not the kernel one');
    assert.is(r.readUInt16BE(40), 3);
    assert.is(r.toString('utf8', 42), 'kernel-please');
    const [flow] = fwd.table();
    assert.ok(flow!.hostId > 0, 'the kernel bound an identifier');
    assert.is(fwd.stats.replies, 1);
    assert.is(net.stats().gateway.echoReplies, 0, "the gateway's own echo counter did not move");
    fwd.close();
    await net.close();
  });

  test('a denied 127.0.0.5 gets admin-prohibited and nothing is sent', async () => {
    const { net, nic, fwd, ping } = network([]);
    ping(MAPPED_DENIED, 1, 1, 'no');
    await new Promise((r) => setTimeout(r, 50));
    const f = nic.take();
    assert.is(f.length, 1);
    assert.equal([f[0]![34], f[0]![35]], [3, 13]);
    assert.is(fwd.stats.requests, 0);
    assert.is(fwd.stats.opened, 0);
    fwd.close();
    await net.close();
  });
}

test.run();
