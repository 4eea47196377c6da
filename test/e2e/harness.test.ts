/**
 * Proves the e2e harness itself, with no vnetkit code: namespace guests whose TAP frames
 * `tap-relay` carries to a tiny frame hub (`harness/frame-hub.ts`) must reach each other with
 * every framing the relay speaks, with frames split across reads, with partial writes, and
 * at MTU 65520. Needs root on Linux; otherwise every test is skipped with the reason printed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startFrameHub, disconnectResponse, type FrameHub, type FrameHubOptions } from './harness/frame-hub.js';
import { HarnessError } from './harness/harness-error.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest, type GuestOptions } from './harness/netns.js';
import { waitForTcpListener, waitUntil } from './harness/probes.js';
import { ownedNamespaces } from './harness/registry.js';

const skip = e2eSkipReason(['busybox', 'nc', 'ss']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/harness.test.ts: ${skip}`);

let dir = '';
let hub: FrameHub | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-h-');
});
test.after.each(async () => {
  await closeAllGuests();
  await hub?.close();
  hub = undefined;
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A hub plus `n` guests on it with addresses 10.99.0.1/24, 10.99.0.2/24, ... */
async function lan(hubOpts: FrameHubOptions, guestOpts: Partial<GuestOptions>[]): Promise<Guest[]> {
  hub = await startFrameHub(join(dir, 'hub.sock'), hubOpts);
  const guests: Guest[] = [];
  for (const [i, o] of guestOpts.entries()) {
    const g = await createGuest({ socketPath: hub.path, framing: hubOpts.framing, ...o });
    await g.setAddress(`10.99.0.${i + 1}/24`);
    guests.push(g);
  }
  return guests;
}

async function ping(from: Guest, to: string, size = 56): Promise<void> {
  const r = await from.exec(['busybox', 'ping', '-c', '3', '-i', '0.2', '-w', '20', '-s', String(size), to], { timeoutMs: 30_000 });
  assert.match(r.stdout, /3 packets received/, `${from.name} -> ${to}: ${r.stdout}`);
}

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

it('qemu framing: two guests ping each other; 1 MiB via nc arrives intact through chopped, stalled frames', async () => {
  // chopSeed: the hub splits every frame into pieces written one event-loop turn apart, so the
  // relay sees frames split across reads; stallEvery: the hub stops reading now and then, so
  // the relay's writes meet a full socket buffer.
  const [a, b] = await lan({ framing: 'qemu', chopSeed: 42, stallEvery: 64, stallMs: 30 }, [
    { mac: '02:00:00:00:00:01' },
    { mac: '02:00:00:00:00:02' },
  ]);
  assert.is(a!.mac, '02:00:00:00:00:01');
  assert.is(b!.mac, '02:00:00:00:00:02');
  await ping(a!, '10.99.0.2');
  await ping(b!, '10.99.0.1');

  const input = join(dir, 'blob.in');
  const output = join(dir, 'blob.out');
  const blob = randomBytes(1 << 20);
  writeFileSync(input, blob);
  // -d: the receiver reads nothing from stdin, so it exits when the sender's FIN arrives.
  const receiving = b!.exec(['sh', '-c', `exec nc -d -l 10.99.0.2 5000 > ${output}`], { timeoutMs: 90_000 });
  receiving.catch(() => undefined); // awaited below; if the sender fails first, after.each kills it
  await waitForTcpListener(b!, 5000);
  await a!.exec(['sh', '-c', `exec nc -N 10.99.0.2 5000 < ${input}`], { timeoutMs: 90_000 });
  await receiving;
  const sha = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');
  assert.is(sha(readFileSync(output)), sha(blob), 'the received stream differs from the sent one');
  assert.equal(hub!.errors, []);
  assert.ok(hub!.stats[0]!.frames > 700, `only ${hub!.stats[0]!.frames} frames from the sender`);
});

it('stdio framing (u16 LE, no handshake): two guests ping each other', async () => {
  const [a, b] = await lan({ framing: 'stdio' }, [{}, {}]);
  await ping(a!, '10.99.0.2');
  await ping(b!, '10.99.0.1');
  assert.equal(hub!.errors, []);
});

it('MTU 65520: 60000- and 65492-byte pings cross as single frames, with partial socket writes', async () => {
  // A 4 KiB send buffer cannot take a 64 KiB frame in one write, so the relay must finish
  // each frame over several writes without interleaving another one.
  const [a, b] = await lan({ framing: 'qemu' }, [{ mtu: 65520, sndbuf: 4096 }, { mtu: 65520, sndbuf: 4096 }]);
  assert.is((await a!.exec(['cat', `/sys/class/net/${a!.tap}/mtu`])).stdout.trim(), '65520');
  await ping(a!, '10.99.0.2', 60000);
  // 65492 + 8 (ICMP) + 20 (IPv4) = 65520, the MTU: the largest unfragmented frame, 65534 bytes.
  await ping(b!, '10.99.0.1', 65492);
  assert.is(hub!.stats[0]!.maxFrame, 65534);
  assert.is(hub!.stats[1]!.maxFrame, 65534);
  assert.equal(hub!.errors, []);
});

it('vmnet: the Vif response sets MAC and MTU, the UUID is sent, and frames flow with u16 LE framing', async () => {
  const uuid = 'c3d68012-0208-11ea-9fd7-f2189899ab08';
  const [a, b] = await lan({ framing: 'vmnet' }, [{ uuid }, {}]);
  assert.equal(a!.vif, { mtu: 1500, maxPacket: 1550, mac: '02:50:00:00:00:07' });
  assert.is(a!.mac, '02:50:00:00:00:07');
  assert.is(b!.mac, '02:50:00:00:00:08');
  assert.is((await a!.exec(['cat', `/sys/class/net/${a!.tap}/mtu`])).stdout.trim(), '1500');
  const [cmdA, cmdB] = hub!.commands;
  assert.is(cmdA![0], 1, 'Ethernet command');
  assert.is(cmdA!.toString('ascii', 1, 37), uuid);
  assert.ok(cmdB!.subarray(1, 37).every((x) => x === 0), 'no --uuid: 36 NUL bytes (server picks)');
  await ping(a!, '10.99.0.2');
  await ping(b!, '10.99.0.1');
  assert.equal(hub!.errors, []);
});

it('vmnet: a Disconnect response makes the relay exit 3 with the reason, and leaves nothing behind', async () => {
  const reason = 'Preferred IP address 192.168.65.9 already used.';
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'vmnet', respond: () => disconnectResponse(reason) });
  let failed = '';
  try {
    await createGuest({ socketPath: hub.path, framing: 'vmnet', preferredIp: '192.168.65.9' });
    assert.unreachable('createGuest must fail on a Disconnect response');
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    assert.is(e.exitCode, 3, e.message);
    assert.match(e.stderr, `disconnect: ${reason}`);
    assert.ok(e.namespace?.startsWith('vnk-'), 'the error names the namespace');
    failed = e.namespace!;
    assert.not.ok(existsSync(`/etc/netns/${e.namespace}`), '/etc/netns/<name> removed');
  }
  // §1.4: command 8 carries the address as u32 LE, i.e. the octets reversed.
  assert.is(hub.commands[0]![0], 8);
  assert.equal([...hub.commands[0]!.subarray(37, 41)], [9, 65, 168, 192]);
  // Only our own name is checked: other test processes may create namespaces meanwhile.
  assert.not.match(netnsList(), failed, 'the failed guest left no namespace');
  assert.equal(ownedNamespaces(), []);
});

it('close() is idempotent and removes the namespace, its /etc/netns dir and every process in it', async () => {
  const [a] = await lan({ framing: 'qemu' }, [{}]);
  const sleeper = a!.spawn(['sleep', '600']);
  // SIGTERM ends this sh, but its backgrounded child keeps the stdout pipe open: close() must
  // not wait forever for that process's output to end.
  const holder = a!.spawn(['sh', '-c', 'sleep 600 & sleep 601']);
  // A grandchild that the harness never saw: close() must find it through `ip netns pids`.
  await a!.exec(['sh', '-c', 'sleep 600 >/dev/null 2>&1 &']);
  const relayPid = a!.relay.pid!;
  // relay, sleeper, holder's sh and its two sleeps, the grandchild sleep
  const inside = await waitUntil('6 processes in the namespace', () => {
    const pids = execFileSync('ip', ['netns', 'pids', a!.name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    return pids.length >= 6 ? pids : undefined;
  });
  await Promise.all([a!.close(), a!.close()]);
  await a!.close();
  assert.not.match(netnsList(), a!.name);
  assert.not.ok(existsSync(`/etc/netns/${a!.name}`));
  // A killed process may linger as a zombie until its new parent reaps it; that is not alive.
  const alive = (pid: number): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  // A process leaves the namespace a moment before it is gone from the process table.
  const pids = [relayPid, sleeper.pid!, holder.pid!, ...inside.map(Number)];
  await waitUntil(`pids ${pids.join(',')} to be gone after close()`, () => !pids.some(alive), { timeoutMs: 5_000 });
});

test.run();
