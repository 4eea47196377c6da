/**
 * Outbound NAT against real host servers on 127.0.0.1:0, with one of our own endpoints as the
 * guest's TCP: connect-first, refusal, policy, half-close both ways, resets, backpressure, limits.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { sharedBufferPool } from '../../src/runtime/buffer-pool.js';
import { GUEST, GuestPair, HOST_ALIAS, until } from '../harness/tcp/guest-pair.js';
import { seededBytes, sha } from '../harness/bytes.js';


const allSockets = new Map<Server, Socket[]>();

async function listen(onConn: (s: Socket) => void, allowHalfOpen = true): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen }, (s) => {
    sockets.push(s);
    s.on('error', () => {}); // resets are part of several tests
    onConn(s);
  });
  allSockets.set(server, sockets);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, sockets };
}
/** Closes the server and whatever connections it still has. */
const closeServer = (s: Server): Promise<void> =>
  new Promise((r) => {
    s.close(() => r());
    for (const c of allSockets.get(s) ?? []) c.destroy();
  });

const connectFirst = suite('connect-first');

connectFirst('the guest gets SYN-ACK only after the host socket connected', async () => {
  const order: string[] = [];
  const { server, port } = await listen(() => {});
  const net = await import('node:net');
  const pair = new GuestPair({
    outbound: {
      connect: ((o: Parameters<typeof net.connect>[0]) => {
        const s = net.connect(o as never);
        s.once('connect', () => order.push('host-connected'));
        return s;
      }) as typeof net.connect,
    },
  });
  const g = pair.connect(port);
  await until(() => pair.log.some((l) => l.dir === 'to-gw' && l.flags === 'S'), 'SYN sent');
  const synAckSeen = (): boolean => pair.log.some((l) => l.dir === 'to-guest' && l.flags === 'S.');
  await until(() => synAckSeen() || order.length > 0, 'connect or SYN-ACK');
  if (synAckSeen() && order.length === 0) assert.unreachable('SYN-ACK before the host connected');
  await until(() => g.established, 'guest established');
  assert.equal(order, ['host-connected']);
  assert.is(pair.outbound.stats().accepted, 1);
  g.conn.abort();
  await closeServer(server);
});

connectFirst('bytes cross both ways intact (4 MiB each way through an echo-free exchange)', async () => {
  const up = seededBytes(4 << 20, 1);
  const down = seededBytes(4 << 20, 2);
  const got: Buffer[] = [];
  const { server, port } = await listen((s) => {
    s.on('data', (b) => got.push(b));
    s.write(down);
    s.on('end', () => s.end());
  });
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  g.sendAll(up, true);
  await until(() => g.ended && g.closed !== undefined, 'closed both ways');
  assert.is(g.closed, 'closed');
  assert.is(sha(Buffer.concat(got)), sha(up));
  assert.is(sha(g.received), sha(down));
  const s = pair.outbound.stats();
  assert.equal([s.bytesToHost, s.bytesToGuest], [up.length, down.length]);
  await until(() => pair.outbound.stats().open === 0, 'flow freed');
  await closeServer(server);
});

connectFirst('guest→host batches come back from their write callbacks and serve the next turns', async () => {
  const up = seededBytes(2 << 20, 3);
  const got: Buffer[] = [];
  const { server, port } = await listen((s) => {
    s.on('data', (b) => got.push(b));
    s.on('end', () => s.end());
  });
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  const before = sharedBufferPool.stats();
  g.sendAll(up, true);
  await until(() => g.closed !== undefined, 'closed');
  assert.is(sha(Buffer.concat(got)), sha(up));
  const after = sharedBufferPool.stats();
  const reused = after.reused - before.reused;
  const allocated = after.allocated - before.allocated;
  assert.ok(reused >= 10, `batches reused (${reused})`);
  assert.ok(allocated <= 4, `a handful of buffers allocated for ${reused} reuses (${allocated})`);
  await closeServer(server);
});

connectFirst('a refused port gives the guest RST at once and no SYN-ACK', async () => {
  const { server, port } = await listen(() => {});
  await closeServer(server);
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.closed !== undefined, 'guest closed');
  assert.is(g.closed, 'refused');
  assert.not.ok(pair.log.some((l) => l.flags === 'S.'));
  assert.is(pair.outbound.stats().refused, 1);
});

connectFirst('a destination denied by the egress policy gets RST, is counted and never dialled', async () => {
  let dialled = 0;
  const asked: Array<[number, number]> = [];
  const pair = new GuestPair({
    outbound: {
      egressPolicy: (ip, port) => (asked.push([ip, port]), false),
      connect: (() => {
        dialled++;
        return new Socket();
      }) as never,
    },
  });
  const g = pair.connect(8080);
  await until(() => g.closed !== undefined, 'guest closed');
  assert.is(g.closed, 'refused');
  assert.is(dialled, 0);
  assert.equal(asked, [[0x7f000001, 8080]], 'the alias is checked as 127.0.0.1');
  assert.is(pair.outbound.stats().denied, 1);
});

connectFirst('a connect that times out is reported with ICMP when wired, else RST', async () => {
  const icmp: string[] = [];
  const never = (() => new Socket()) as never; // never connects, never fails
  const pair = new GuestPair({ outbound: { connect: never, connectTimeoutMs: 5000, sendIcmpUnreachable: (req, why) => icmp.push(`${req.dstPort}:${why}`) } });
  pair.connect(81);
  await until(() => pair.outbound.stats().pending === 1, 'pending');
  assert.equal([...pair.outbound.flowsByGuest()], [[GUEST, 1]], 'a connect in progress counts as a flow of its guest');
  pair.sched.advance(5000);
  assert.equal([...pair.outbound.flowsByGuest()], [], 'and no longer once it failed');
  assert.equal(icmp, ['81:timeout']);
  assert.is(pair.outbound.stats().timedOut, 1);
  const pair2 = new GuestPair({ outbound: { connect: never, connectTimeoutMs: 5000 } });
  const g2 = pair2.connect(82);
  await until(() => pair2.outbound.stats().pending === 1, 'pending');
  pair2.sched.advance(5000);
  await until(() => g2.closed !== undefined, 'guest told');
  assert.is(g2.closed, 'refused');
});

const halfClose = suite('half-close');

halfClose('guest shuts its write side: the host sees EOF and can still answer', async () => {
  const { server, port } = await listen((s) => {
    const parts: Buffer[] = [];
    s.on('data', (b) => parts.push(b));
    s.on('end', () => {
      s.write(`got ${Buffer.concat(parts).length} bytes`);
      s.end();
    });
  });
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  g.sendAll(Buffer.alloc(100_000, 1), true);
  await until(() => g.ended, 'answer and EOF');
  assert.is(g.received.toString(), 'got 100000 bytes');
  await until(() => g.closed !== undefined, 'closed');
  await closeServer(server);
});

halfClose('host ends first: the guest gets data then FIN, and may keep sending', async () => {
  let hostGot = '';
  let hostSawEnd = false;
  const { server, port } = await listen((s) => {
    s.end('hello guest');
    s.on('data', (b) => (hostGot += b.toString()));
    s.on('end', () => (hostSawEnd = true));
  });
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.ended, 'guest sees EOF');
  assert.is(g.received.toString(), 'hello guest');
  g.sendAll(Buffer.from('still talking'), true);
  await until(() => hostSawEnd, 'host sees EOF');
  assert.is(hostGot, 'still talking');
  await until(() => g.closed !== undefined, 'closed');
  assert.is(g.closed, 'closed');
  await closeServer(server);
});

const resets = suite('resets');

resets('a host reset mid-transfer resets the guest', async () => {
  const { server, port } = await listen((s) => {
    let n = 0;
    s.on('data', (b) => {
      n += b.length;
      if (n > 50_000) s.resetAndDestroy();
    });
  });
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  g.sendAll(seededBytes(2 << 20, 3));
  await until(() => g.closed !== undefined, 'guest closed');
  assert.is(g.closed, 'reset');
  assert.is(pair.outbound.stats().hostResets, 1);
  await closeServer(server);
});

resets('a guest reset destroys the host socket', async () => {
  let hostError = '';
  let hostClosed = false;
  const { server, port } = await listen((s) => {
    s.on('error', (e: NodeJS.ErrnoException) => (hostError = e.code ?? ''));
    s.on('close', () => (hostClosed = true));
  });
  const pair = new GuestPair();
  const g = pair.connect(port);
  await until(() => g.established, 'established');
  g.conn.abort();
  await until(() => hostClosed, 'host socket closed');
  assert.is(hostError, 'ECONNRESET');
  assert.is(pair.outbound.stats().guestResets, 1);
  await closeServer(server);
});

const backpressure = suite('backpressure');

backpressure('a host that stops reading closes the guest\'s window; memory stays bounded; all arrives later', async () => {
  const RCV = 256 * 1024;
  let hostSock: Socket | undefined;
  const got: Buffer[] = [];
  const { server, port } = await listen((s) => {
    hostSock = s;
    s.pause();
  });
  const pair = new GuestPair({ gatewayConfig: { receiveBuffer: RCV } });
  const g = pair.connect(port);
  await until(() => g.established && hostSock !== undefined, 'established');
  const up = seededBytes(32 << 20, 4);
  g.sendAll(up, true);
  const gw = pair.gatewaySide(g)!;
  const windowClosed = (): boolean => gw.rcvAdvEdge === gw.rcvNxt;
  await until(windowClosed, 'the window we advertise reaches zero');
  const flowSock = (gw.user as { socket: Socket }).socket;
  let maxHeld = 0;
  for (let i = 0; i < 2000; i++) {
    await new Promise((r) => setImmediate(r));
    maxHeld = Math.max(maxHeld, flowSock.writableLength, gw.backlog);
  }
  assert.ok(windowClosed(), 'still closed while the host does not read');
  assert.ok(maxHeld <= RCV + 65536, `held ${maxHeld} bytes ≤ receive buffer + one batch`);
  assert.ok(g.conn.sendBuf.length > 0, 'the guest is the one holding its data');
  hostSock!.on('data', (b) => got.push(b));
  hostSock!.resume();
  await until(() => Buffer.concat(got).length === up.length, 'all delivered after resuming', 2_000_000);
  assert.is(sha(Buffer.concat(got)), sha(up));
  await closeServer(server);
});

backpressure('a guest that stops reading pauses the host socket; the gateway holds at most its send ring', async () => {
  let serverWriteBlocked = false;
  const { server, port } = await listen((s) => {
    const chunk = Buffer.alloc(1 << 20, 9);
    const pushMore = (): void => {
      while (s.write(chunk));
      serverWriteBlocked = true;
    };
    pushMore();
  });
  const SND = 1 << 20;
  const pair = new GuestPair({ gatewayConfig: { sendBuffer: SND }, guestConfig: { receiveBuffer: 128 * 1024 } });
  const g = pair.connect(port);
  g.conn.setReceiveBacklog(0);
  const origOnData = g.conn.onData!;
  let held = 0;
  g.conn.onData = (b, off, len) => {
    origOnData(b, off, len);
    held += len;
    g.conn.setReceiveBacklog(held); // never consumed
  };
  await until(() => serverWriteBlocked, 'the host server is blocked on write', 2_000_000);
  const gw = pair.gatewaySide(g)!;
  for (let i = 0; i < 500; i++) await new Promise((r) => setImmediate(r));
  assert.ok(gw.sendBuf.length <= SND, 'the send ring is bounded');
  assert.ok(held <= 128 * 1024 + 2 * 65536, `the guest received at most its window (${held})`);
  g.conn.abort();
  await closeServer(server);
});

const limits = suite('limits and teardown');

limits('maxFlows refuses the flow over the limit with RST and counts it', async () => {
  const { server, port } = await listen(() => {});
  const pair = new GuestPair({ outbound: { maxFlows: 2 } });
  const a = pair.connect(port);
  const b = pair.connect(port);
  await until(() => a.established && b.established, 'two flows');
  const c = pair.connect(port);
  await until(() => c.closed !== undefined, 'third refused');
  assert.is(c.closed, 'refused');
  assert.is(pair.outbound.stats().limited, 1);
  a.conn.abort();
  b.conn.abort();
  await closeServer(server);
});

limits('the per-source rate drops SYNs over the budget; the guest\'s SYN retry gets through later', async () => {
  const { server, port } = await listen(() => {});
  const pair = new GuestPair({ outbound: { newFlowsPerSecond: 1, newFlowsBurst: 1 } });
  const a = pair.connect(port);
  const b = pair.connect(port);
  await until(() => a.established && pair.outbound.stats().rateLimited === 1, 'second SYN dropped');
  assert.not.ok(b.established);
  assert.is(b.closed, undefined, 'dropped, not refused');
  pair.sched.advance(1000); // the guest retransmits its SYN after 1 s; a token has accrued
  await until(() => b.established, 'retry accepted');
  a.conn.abort();
  b.conn.abort();
  await closeServer(server);
});

limits('closeForGuest frees every flow of that guest and leaves other guests alone', async () => {
  const closedOnHost: number[] = [];
  const { server, port } = await listen((s) => s.on('close', () => closedOnHost.push(1)), false);
  const pair = new GuestPair();
  const mine = [pair.connect(port), pair.connect(port), pair.connect(port)];
  const other = pair.connect(port, HOST_ALIAS, GUEST + 1);
  await until(() => mine.every((g) => g.established) && other.established, 'four flows');
  assert.is(pair.outbound.stats().open, 4);
  assert.is(pair.outbound.closeForGuest(GUEST), 3);
  pair.gw.abortGuest(GUEST);
  await until(() => closedOnHost.length === 3, 'host sockets closed');
  assert.is(pair.outbound.stats().open, 1);
  assert.equal(pair.gw.stats().connections, 1);
  other.sendAll(Buffer.from('unaffected'), true);
  await until(() => other.closed !== undefined || pair.outbound.stats().bytesToHost >= 10, 'other flow works');
  assert.ok(pair.outbound.stats().bytesToHost >= 10);
  other.conn.abort();
  await closeServer(server);
});

connectFirst.run();
halfClose.run();
resets.run();
backpressure.run();
limits.run();
