/**
 * tap-relay's edges, against peers written in this file: handshake failures (vmnet version,
 * hybrid-vsock refusal), bad frame lengths, option misuse, a clean exit on peer EOF, and the
 * largest frame (65535-byte IPv4 packet + 14) going from the socket into the guest kernel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startFrameHub, type FrameHub } from './frame-hub.js';
import { HarnessError } from './harness-error.js';
import { closeAllGuests, createGuest, e2eSkipReason, type GuestOptions } from './netns.js';
import { waitUntil } from './probes.js';

const skip = e2eSkipReason(['busybox']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/harness/relay-protocols.test.ts: ${skip}`);

let dir = '';
let hub: FrameHub | undefined;
let raw: Server | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-r-');
});
test.after.each(async () => {
  await closeAllGuests();
  await hub?.close();
  hub = undefined;
  await new Promise<void>((r) => (raw ? raw.close(() => r()) : r()));
  raw = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Expects createGuest to fail with the relay exiting `code` and stderr matching `pattern`. */
async function expectRelayFailure(opts: GuestOptions, code: number, pattern: RegExp): Promise<void> {
  try {
    await createGuest(opts);
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    assert.is(e.exitCode, code, e.message);
    assert.match(e.stderr, pattern);
    return;
  }
  assert.unreachable('createGuest should have failed');
}

/**
 * A Unix-socket server that hands each connection to `onConnection`. Each connection is kept
 * reading (a paused socket never sees the peer's EOF, and an idle one keeps no test alive).
 */
async function rawServer(onConnection: (s: Socket) => void): Promise<string> {
  const path = join(dir, 'raw.sock');
  rmSync(path, { force: true });
  const server = createServer((s) => {
    s.on('error', () => undefined); // the relay exits on bad input; a reset is expected
    onConnection(s);
    s.resume();
  });
  raw = server;
  await new Promise<void>((r) => server.listen(path, r));
  return path;
}

it('vmnet: a server Init with version 21 is fatal (exit 1, names both versions)', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'vmnet', vmnetVersion: 21 });
  await expectRelayFailure({ socketPath: hub.path, framing: 'vmnet' }, 1, /server protocol version 21, want 22/);
});

it('vmnet: a server that closes instead of answering the command fails the handshake', async () => {
  const path = await rawServer((s) => {
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got === 49) {
        const init = Buffer.alloc(49);
        init.write('VMN3T');
        init.writeUInt32LE(22, 5);
        s.write(init);
      } else if (got >= 49 + 41) s.end(); // §1.2: unknown command -> close, no response
    });
  });
  await expectRelayFailure({ socketPath: path, framing: 'vmnet' }, 1, /closed the connection .* vmnet response/);
});

it('hybrid vsock: CONNECT/OK precedes the framing, then frames flow', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'qemu', hybridVsockPort: 1024 });
  const a = await createGuest({ socketPath: hub.path, framing: 'qemu', hybridVsockPort: 1024 });
  const b = await createGuest({ socketPath: hub.path, framing: 'qemu', hybridVsockPort: 1024 });
  await a.setAddress('10.99.0.1/24');
  await b.setAddress('10.99.0.2/24');
  const r = await a.exec(['busybox', 'ping', '-c', '2', '-i', '0.2', '-w', '20', '10.99.0.2']);
  assert.match(r.stdout, /2 packets received/);
  assert.equal(hub.vsockLines, ['CONNECT 1024', 'CONNECT 1024']);
  assert.equal(hub.errors, []);
});

it('hybrid vsock: a refusal (connection closed, no OK) is fatal', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'qemu', hybridVsockPort: 1024, refuseVsock: true });
  await expectRelayFailure(
    { socketPath: hub.path, framing: 'qemu', hybridVsockPort: 1024 },
    1,
    /closed the connection while we waited for the hybrid-vsock OK line/,
  );
});

it('hybrid vsock: an answer other than "OK <port>" is fatal', async () => {
  const path = await rawServer((s) => s.once('data', () => s.write('NO 1024\n')));
  await expectRelayFailure({ socketPath: path, framing: 'stdio', hybridVsockPort: 7 }, 1, /expected "OK <port>", got "NO 1024"/);
});

it('a frame length below 14 or above 65549 from the peer is fatal (exit 1), not skipped', async () => {
  for (const [framing, header] of [
    ['qemu', Buffer.from([0, 0, 0, 5])],
    ['qemu', Buffer.from([0, 1, 0, 14])], // 65550
    ['stdio', Buffer.from([13, 0])],
  ] as const) {
    const path = await rawServer((s) => setTimeout(() => s.write(header), 50));
    const g = await createGuest({ socketPath: path, framing });
    const r = await g.waitRelayExit(20_000);
    assert.is(r.exitCode, 1, `${framing} ${header.toString('hex')}: ${r.stderr}`);
    assert.match(r.stderr, /peer sent a frame length of (5|65550|13) bytes/);
    await g.close();
    await new Promise<void>((r2) => raw!.close(() => r2()));
  }
  raw = undefined;
});

it('bad options exit 2 with a message', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'vmnet' });
  await expectRelayFailure({ socketPath: hub.path, framing: 'vmnet', mac: '02:00:00:00:00:01' }, 2, /do not apply to vmnet/);
  await expectRelayFailure({ socketPath: hub.path, framing: 'qemu', mtu: 70000 }, 2, /outside 68\.\.65521/);
  await expectRelayFailure({ socketPath: hub.path, framing: 'vmnet', uuid: 'short' }, 2, /36-character/);
  await expectRelayFailure({ socketPath: join(dir, 'nobody-listens.sock'), framing: 'qemu' }, 1, /connect .*nobody-listens/);
});

it('peer EOF: the relay exits 0', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'stdio' });
  const g = await createGuest({ socketPath: hub.path, framing: 'stdio' });
  await waitUntil('the hub to see the connection', () => hub!.stats.length === 1);
  hub.disconnectAll();
  const r = await g.waitRelayExit(20_000);
  assert.is(r.exitCode, 0, r.stderr);
});

/** RFC 1071 Internet checksum. */
function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

it('a 65549-byte frame (65535-byte IPv4 echo request) from the peer reaches the guest, which answers', async () => {
  const guestMac = Buffer.from([2, 0, 0, 0, 0, 2]);
  const peerMac = Buffer.from([2, 0, 0, 0, 0, 1]);
  const replies: Buffer[] = [];
  let peer: Socket | undefined;
  let pending = Buffer.alloc(0);
  const path = await rawServer((s) => {
    peer = s;
    s.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        replies.push(pending.subarray(4, 4 + pending.readUInt32BE(0)));
        pending = pending.subarray(4 + pending.readUInt32BE(0));
      }
    });
  });
  const g = await createGuest({ socketPath: path, framing: 'qemu', mac: '02:00:00:00:00:02', mtu: 65520 });
  await g.setAddress('10.99.0.2/24');
  await g.exec(['ip', 'neigh', 'replace', '10.99.0.1', 'lladdr', '02:00:00:00:00:01', 'dev', g.tap]);

  const ip = Buffer.alloc(65535);
  ip[0] = 0x45; // IPv4, 20-byte header
  ip.writeUInt16BE(65535, 2);
  ip.writeUInt16BE(0x1234, 4); // identification
  ip[8] = 64; // TTL
  ip[9] = 1; // ICMP
  Buffer.from([10, 99, 0, 1]).copy(ip, 12);
  Buffer.from([10, 99, 0, 2]).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip.subarray(0, 20)), 10);
  const icmp = ip.subarray(20);
  icmp[0] = 8; // echo request
  icmp.writeUInt16BE(0x4242, 4); // identifier
  icmp.writeUInt16BE(1, 6); // sequence
  for (let i = 8; i < icmp.length; i++) icmp[i] = i & 0xff;
  icmp.writeUInt16BE(checksum(icmp), 2);
  const frame = Buffer.concat([guestMac, peerMac, Buffer.from([0x08, 0x00]), ip]);
  assert.is(frame.length, 65549);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(frame.length);
  peer!.write(Buffer.concat([header, frame]));

  // The 65535-byte reply exceeds MTU 65520, so it comes back as IPv4 fragments of id X.
  const fragments = await waitUntil('the fragmented echo reply', () => {
    const f = replies.filter((r) => r.readUInt16BE(12) === 0x0800 && r[23] === 1 && r.readUInt32BE(30) === 0x0a630001);
    const bytes = f.reduce((n, r) => n + r.readUInt16BE(16) - 20, 0);
    return bytes === 65515 ? f : undefined;
  });
  const first = fragments.find((r) => (r.readUInt16BE(20) & 0x1fff) === 0)!;
  assert.is(first[34], 0, 'ICMP echo reply');
  assert.is(first.readUInt16BE(38), 0x4242, 'same identifier');
});

test.run();
