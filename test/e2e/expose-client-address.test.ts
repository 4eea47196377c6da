/**
 * Exposed ports, who the guest sees (user-needs.md rows 6 and 23), end to end: a Linux kernel in
 * a network namespace behind a real VirtualNetwork; host clients are curl over 127.0.0.1 and ::1
 * (`localhost` resolved either way), Node sockets and UDP sockets bound to chosen ports. The
 * guest's own tools report the peer: a few lines of Python answering HTTP with the address it
 * accepted from, `ss` for a live connection, socat answering UDP with `$SOCAT_PEERADDR`.
 *
 * The forwarder is the network's own (`net.ports`, what `net.exposePort` uses), with the
 * network-wide `preserveClientAddress` option. Needs root on Linux; skipped otherwise.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PortForwarder } from '../../src/forward/port-forwarder.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitForTcpListener, waitUntil, withTimeout } from './harness/probes.js';

const skip = e2eSkipReason(['curl', 'socat', 'ss', 'python3']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/expose-client-address.test.ts: ${skip}`);

const GUEST_IP = '192.168.65.20';
let dir = '';
let net: VirtualNetwork | undefined;
let fwd: PortForwarder | undefined;
const sockets: Array<Socket | UdpSocket> = [];

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-xc-');
});
test.after.each(async () => {
  for (const s of sockets.splice(0)) 'destroy' in s ? s.destroy() : s.close();
  await fwd?.close();
  fwd = undefined;
  await closeAllGuests();
  await net?.close();
  net = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A network with one namespace guest at 192.168.65.20, and the network's port forwarder. */
async function setup(o: { preserveClientAddress?: boolean } = {}): Promise<{ g: Guest; f: PortForwarder }> {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], ...o })._unsafeUnwrap();
  const n = net;
  const sock = join(dir, `q-${Math.random().toString(16).slice(2)}.sock`);
  (await n.listenQemu(sock))._unsafeUnwrap();
  const g = await createGuest({ socketPath: sock, framing: 'qemu' });
  await g.setAddress(`${GUEST_IP}/24`);
  fwd = n.ports;
  return { g, f: fwd };
}

/** Starts an HTTP/1.0 server in the guest that answers each request with `PEER-IP:PEER-PORT` as accepted. */
async function peerEchoServer(g: Guest, port: number): Promise<void> {
  const script = join(dir, 'peer-http.py');
  writeFileSync(
    script,
    [
      'import socket, sys',
      'srv = socket.create_server((sys.argv[1], int(sys.argv[2])))',
      'while True:',
      '    c, peer = srv.accept()',
      '    c.recv(65536)',
      "    body = ('%s:%d' % peer).encode()",
      "    c.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body) + body)",
      '    c.close()',
      '',
    ].join('\n'),
  );
  g.spawn(['python3', script, GUEST_IP, String(port)]);
  await waitForTcpListener(g, port);
}

/** curl on the host: what the guest answered, and the local port curl connected from. */
async function curl(args: string[]): Promise<{ peer: string; localPort: number }> {
  const r = await execa('curl', ['-sS', '--max-time', '20', '-w', '\\n%{local_port}', ...args], { reject: false });
  assert.is(r.exitCode, 0, `curl ${args.join(' ')}: ${r.stderr}`);
  const [peer, port] = r.stdout.split('\n');
  return { peer: peer!, localPort: Number(port) };
}

/** The peer (`IP:PORT`) of the guest's established connection(s) on local port `port`, per `ss`. */
async function guestPeers(g: Guest, port: number): Promise<string[]> {
  const r = await g.exec(['ss', '-Htn', 'state', 'established', `sport = :${port}`]);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).at(-1)!);
}

it('localhost listens on 127.0.0.1 and ::1: curl -4 localhost, curl [::1] and curl with localhost resolved to ::1 all reach the guest, which sees 192.168.65.254 and each curl\'s own port', async () => {
  const { g, f } = await setup();
  await peerEchoServer(g, 8080);
  const h = (await f.expose({ guest: GUEST_IP, guestPort: 8080, hostIp: 'localhost', hostPort: 0 }))._unsafeUnwrap();
  const p = h.hostPort!;
  const runs = [
    ['-4', `http://localhost:${p}/`],
    ['-4', `http://127.0.0.1:${p}/`],
    ['-6', `http://[::1]:${p}/`],
    // Where /etc/hosts maps localhost to ::1 first (Debian, Fedora), curl localhost goes over IPv6.
    ['-6', '--resolve', `localhost:${p}:[::1]`, `http://localhost:${p}/`],
  ];
  for (const args of runs) {
    const r = await curl(args);
    assert.ok(r.localPort > 0, args.join(' '));
    assert.is(r.peer, `192.168.65.254:${r.localPort}`, args.join(' '));
  }
});

it('a live connection: ss in the guest shows the peer 192.168.65.254:<the client\'s port>; with preserveClientAddress false, the gateway', async () => {
  const { g, f } = await setup();
  g.spawn(['socat', `TCP4-LISTEN:5006,bind=${GUEST_IP},reuseaddr,fork`, 'SYSTEM:cat']);
  await waitForTcpListener(g, 5006);
  const on = (await f.expose({ guest: GUEST_IP, guestPort: 5006, hostPort: 0 }))._unsafeUnwrap();
  const off = (await f.expose({ guest: GUEST_IP, guestPort: 5006, hostPort: 0, preserveClientAddress: false }))._unsafeUnwrap();
  const open = async (port: number): Promise<Socket> => {
    const s = connect({ port, host: '127.0.0.1' });
    sockets.push(s);
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.write('ping\n');
    await waitUntil('the echo through the guest', () => got === 'ping\n', { timeoutMs: 20_000 });
    return s;
  };
  const a = await open(on.hostPort!);
  assert.equal(await guestPeers(g, 5006), [`192.168.65.254:${a.localPort}`]);
  a.destroy();
  await waitUntil('the first connection gone in the guest', async () => (await guestPeers(g, 5006)).length === 0, { timeoutMs: 20_000 });
  const b = await open(off.hostPort!);
  const peers = await guestPeers(g, 5006);
  assert.is(peers.length, 1, JSON.stringify(peers));
  const [ip, port] = peers[0]!.split(':');
  assert.is(ip, '192.168.65.1', 'the gateway');
  assert.ok(Number(port) >= 49152, `an ephemeral port, got ${port}`);
  b.destroy();
});

it('the network-wide default false shows the gateway to curl\'s requests too', async () => {
  const { g, f } = await setup({ preserveClientAddress: false });
  await peerEchoServer(g, 8081);
  const h = (await f.expose({ guest: GUEST_IP, guestPort: 8081, hostIp: 'localhost', hostPort: 0 }))._unsafeUnwrap();
  for (const url of [`http://127.0.0.1:${h.hostPort}/`, `http://[::1]:${h.hostPort}/`]) {
    const r = await curl([url]);
    assert.match(r.peer, /^192\.168\.65\.1:\d+$/, url);
    assert.is.not(r.peer, `192.168.65.1:${r.localPort}`);
  }
});

it('UDP: the guest receives each datagram from 192.168.65.254:<the client\'s port> and its answer reaches that client; [::1] on the same port gets its own alias port', async () => {
  const { g, f } = await setup();
  g.spawn(['socat', `UDP4-RECVFROM:5354,bind=${GUEST_IP},fork`, 'SYSTEM:echo "$SOCAT_PEERADDR $SOCAT_PEERPORT"']);
  await waitUntil('a UDP listener in the guest', async () => (await g.exec(['ss', '-Hlun', 'sport = :5354'], { reject: false })).stdout.trim() !== '');
  const h = (await f.expose({ guest: GUEST_IP, guestPort: 5354, hostIp: 'localhost', hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const v4 = createSocket('udp4');
  const v6 = createSocket({ type: 'udp6', ipv6Only: true });
  sockets.push(v4, v6);
  await new Promise<void>((r) => v4.bind(0, '127.0.0.1', r));
  const p = v4.address().port;
  await new Promise<void>((r, j) => {
    v6.once('error', j);
    v6.bind(p, '::1', r);
  });
  const ask = async (s: UdpSocket, host: string): Promise<string> => {
    let answer = '';
    s.on('message', (m) => (answer ||= m.toString().trim()));
    await waitUntil(
      `the guest's answer over ${host}`,
      () => {
        // UDP may be lost on the way (the first datagram waits for ARP); ask until answered.
        if (answer === '') s.send('who am i\n', h.hostPort!, host);
        return answer !== '' && answer;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    return answer;
  };
  assert.is(await ask(v4, '127.0.0.1'), `192.168.65.254 ${p}`);
  const [ip, port] = (await ask(v6, '::1')).split(' ');
  assert.is(ip, '192.168.65.254');
  assert.is.not(Number(port), p, 'the alias port is held by the IPv4 client: an ephemeral one instead');
  assert.is(h.connections, 2);
});

it('UDP with preserveClientAddress false: the datagram comes from the gateway', async () => {
  const { g, f } = await setup();
  g.spawn(['socat', `UDP4-RECVFROM:5355,bind=${GUEST_IP},fork`, 'SYSTEM:echo "$SOCAT_PEERADDR $SOCAT_PEERPORT"']);
  await waitUntil('a UDP listener in the guest', async () => (await g.exec(['ss', '-Hlun', 'sport = :5355'], { reject: false })).stdout.trim() !== '');
  const h = (await f.expose({ guest: GUEST_IP, guestPort: 5355, hostPort: 0, protocol: 'udp', preserveClientAddress: false }))._unsafeUnwrap();
  const c = createSocket('udp4');
  sockets.push(c);
  let answer = '';
  c.on('message', (m) => (answer ||= m.toString().trim()));
  await withTimeout(
    'the guest answer',
    waitUntil('an answer', () => (answer === '' && c.send('q\n', h.hostPort!, '127.0.0.1'), answer !== '' && answer), { timeoutMs: 30_000, intervalMs: 500 }),
    40_000,
  );
  const [ip, port] = answer.split(' ');
  assert.is(ip, '192.168.65.1');
  assert.ok(Number(port) >= 49152, answer);
});

test.run();
