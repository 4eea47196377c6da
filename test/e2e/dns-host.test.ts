/**
 * DNS that follows the host, end to end: a namespace guest asks the gateway with `dig`, `getent`
 * and a raw UDP client; vnetkit runs in `dns-host-child.ts` inside a private mount and network
 * namespace made here (see that file for why), so:
 * - the "host resolver" is getaddrinfo over a hosts file this test wrote, with `hosts: files` in
 *   nsswitch.conf — names known only to it, and no DNS query ever leaves the namespace;
 * - the upstreams are test resolvers on port 53 of 127.0.0.2 and 127.0.0.3 in that namespace,
 *   listed in a temp resolv.conf (`resolvConfPath`) that the test rewrites.
 * Nothing here edits the real /etc/hosts or /etc/resolv.conf. Needs root on Linux, `unshare`,
 * `mount` and `dig`; otherwise skipped with the reason printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Answer } from 'dns-packet';
import { decode, query, rcodeOf } from '../harness/dns/messages.js';
import type { ChildConfig } from './dns-host-child.js';
import { waitUntil } from './harness/probes.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { etcNetnsDir } from './harness/registry.js';

const skip = e2eSkipReason(['dig', 'unshare', 'mount', 'getent']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/dns-host.test.ts: ${skip}`);

const GATEWAY = '192.168.65.1';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The host's hosts file, as this test makes it: names no DNS server knows. */
const HOSTS = [
  '127.0.0.1 localhost',
  '10.66.0.5 vpn-only.corp.test',
  '10.66.0.6 dual.corp.test',
  'fd00:66::6 dual.corp.test',
].join('\n');
const RESOLVER_A: Answer[] = [
  { name: 'corp.test', type: 'TXT', ttl: 60, data: ['from-A'] },
  { name: 'which.corp.test', type: 'TXT', ttl: 0, data: ['A'] },
];
const RESOLVER_B: Answer[] = [{ name: 'which.corp.test', type: 'TXT', ttl: 0, data: ['B'] }];

/** A JSON line from the child. */
type ChildEvent = { event: string } & Record<string, unknown>;

/** The vnetkit process in its private namespaces. */
interface Child {
  readonly proc: ChildProcess;
  readonly events: ChildEvent[];
  waitFor(pred: (e: ChildEvent) => boolean, what: string): Promise<ChildEvent>;
  stats(): Promise<Record<string, unknown>>;
}

let dir = '';
let child: Child | undefined;
let killOnExit: (() => void) | undefined;

test.before(() => {
  if (skip) return;
  dir = mkdtempSync('/tmp/vnk-dnshost-');
  writeFileSync(join(dir, 'hosts'), `${HOSTS}\n`);
  writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files\n');
});
test.after.each(async () => {
  await closeAllGuests();
  await stopChild();
});
test.after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Starts the child; `resolv.conf` initially lists `nameservers`. */
async function startChild(hostResolver: boolean, nameservers: string[]): Promise<{ child: Child; socket: string }> {
  const socket = join(dir, `qemu-${process.hrtime.bigint()}.sock`);
  const resolvConf = join(dir, 'resolv.conf');
  writeResolvConf(nameservers);
  const cfg: ChildConfig = {
    socket,
    resolvConf,
    hostResolver,
    resolvers: [
      { address: '127.0.0.2', records: RESOLVER_A },
      { address: '127.0.0.3', records: RESOLVER_B },
    ],
  };
  // $1 = config, $2 = hosts, $3 = nsswitch.conf: no quoting of paths inside the script.
  const script =
    'ip link set lo up && mount --bind "$2" /etc/hosts && mount --bind "$3" /etc/nsswitch.conf && exec node --import tsx test/e2e/dns-host-child.ts "$1"';
  const proc = spawn('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', script, 'sh', JSON.stringify(cfg), join(dir, 'hosts'), join(dir, 'nsswitch.conf')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // unshare and sh exec: this PID is the node process. Killed by PID if the test process dies.
  const pid = proc.pid!;
  killOnExit = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  const events: ChildEvent[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as ChildEvent);
    } catch {
      events.push({ event: 'text', line: l });
    }
    for (const w of [...waiters]) w();
  });
  const waitFor = (pred: (e: ChildEvent) => boolean, what: string): Promise<ChildEvent> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = events.find(pred);
        const fatal = events.find((e) => e.event === 'fatal');
        if (hit !== undefined || fatal !== undefined || proc.exitCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          if (hit !== undefined) resolve(hit);
          else reject(new Error(`child ended before ${what}: ${JSON.stringify(fatal ?? proc.exitCode)}\n${stderr}`));
        }
      };
      // A hang guard, not a timing criterion.
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} from the child\nevents: ${JSON.stringify(events)}\nstderr: ${stderr}`));
      }, 60_000);
      waiters.add(check);
      proc.once('exit', check);
      check();
    });
  child = {
    proc,
    events,
    waitFor,
    stats: async () => {
      const seen = events.filter((e) => e.event === 'stats').length;
      proc.stdin!.write('stats\n');
      await waitUntil('a stats line', () => events.filter((e) => e.event === 'stats').length > seen, { timeoutMs: 30_000, intervalMs: 10 });
      return events.filter((e) => e.event === 'stats').pop()!.stats as Record<string, unknown>;
    },
  };
  await waitFor((e) => e.event === 'ready', 'ready line');
  return { child, socket };
}

async function stopChild(): Promise<void> {
  const c = child;
  child = undefined;
  if (c === undefined) return;
  if (killOnExit !== undefined) process.removeListener('exit', killOnExit);
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.proc.once('exit', () => r()));
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Rewrites the temp resolv.conf the way resolvconf does: a new file renamed over the old. */
function writeResolvConf(nameservers: string[], how: 'rename' | 'in-place' = 'rename'): void {
  const text = `# written by dns-host.test.ts\n${nameservers.map((n) => `nameserver ${n}`).join('\n')}\n`;
  const path = join(dir, 'resolv.conf');
  if (how === 'in-place') return writeFileSync(path, text);
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

async function guestOn(socket: string): Promise<Guest> {
  const g = await createGuest({ socketPath: socket, framing: 'qemu' });
  await g.setAddress('192.168.65.2/24');
  // The guest resolves through the gateway and sees no hosts file of the host's.
  writeFileSync(join(etcNetnsDir(g.name), 'resolv.conf'), `nameserver ${GATEWAY}\noptions timeout:3 attempts:2\n`);
  writeFileSync(join(etcNetnsDir(g.name), 'hosts'), '127.0.0.1 localhost\n');
  return g;
}

async function dig(g: Guest, ...args: string[]): Promise<string> {
  const r = await g.exec(['dig', `@${GATEWAY}`, '+time=4', '+tries=2', ...args], { timeoutMs: 30_000, reject: false });
  return r.stdout;
}

const queriesFor = (c: Child, name: string): ChildEvent[] => c.events.filter((e) => e.event === 'dns-query' && e.name === name);

it('host-resolver mode: a name only the host’s hosts file knows resolves in the guest; AAAA is NODATA; unknown is NXDOMAIN; other types go upstream', async () => {
  const { child: c, socket } = await startChild(true, ['127.0.0.2']);
  assert.is(c.events.find((e) => e.event === 'ready')!.mode, 'host-resolver');
  const g = await guestOn(socket);
  assert.is((await dig(g, '+short', 'vpn-only.corp.test')).trim(), '10.66.0.5');
  const aaaa = await dig(g, 'vpn-only.corp.test', 'AAAA');
  assert.match(aaaa, /status: NOERROR/);
  assert.match(aaaa, /ANSWER: 0/);
  assert.match(await dig(g, 'nope.corp.test'), /status: NXDOMAIN/);
  assert.is((await dig(g, '+short', 'corp.test', 'TXT')).trim(), '"from-A"');

  const q = queriesFor(c, 'vpn-only.corp.test');
  assert.equal(
    q.map((e) => [e.type, e.via, e.rcodeName, (e.answers as { data: string; ttl: number }[]).map((a) => `${a.data}/${a.ttl}`)]),
    [['A', 'host', 'NOERROR', ['10.66.0.5/5']], ['AAAA', 'host', 'NOERROR', []]],
  );
  assert.equal(queriesFor(c, 'corp.test').map((e) => [e.via, e.server]), [['upstream', '127.0.0.2:53']]);
  const upstreamNames = c.events.filter((e) => e.event === 'upstream-query').map((e) => `${e.name}/${e.type}`);
  assert.equal(upstreamNames, ['corp.test/TXT'], 'A/AAAA never went upstream');
  const stats = await c.stats();
  assert.is(stats.mode, 'host-resolver');
  assert.ok((stats.hostResolver as { lookups: number }).lookups >= 3);
});

it('upstream mode does not read the hosts file: the same name is the upstream’s NXDOMAIN', async () => {
  const { child: c, socket } = await startChild(false, ['127.0.0.2']);
  assert.is(c.events.find((e) => e.event === 'ready')!.mode, 'upstream');
  const g = await guestOn(socket);
  assert.match(await dig(g, 'vpn-only.corp.test'), /status: NXDOMAIN/);
  assert.equal(queriesFor(c, 'vpn-only.corp.test').map((e) => [e.via, e.server]), [['upstream', '127.0.0.2:53']]);
});

it('host-resolver mode: parallel A and AAAA from one source port with one id both get answers (raw client and glibc)', async () => {
  const { child: c, socket } = await startChild(true, ['127.0.0.2']);
  const g = await guestOn(socket);
  // One UDP socket, two queries back to back, same id: what musl and glibc stubs do.
  const pairs: [string, string][] = [
    ['dual.corp.test', 'both families'],
    ['vpn-only.corp.test', 'IPv4 only'],
  ];
  for (const [name] of pairs) {
    const qs = [query(name, 'A', { id: 0x4242 }), query(name, 'AAAA', { id: 0x4242 })].map((b) => Buffer.from(b).toString('hex'));
    const script = `
      const s = require('node:dgram').createSocket('udp4');
      const got = [];
      s.on('message', (m) => { got.push(m.toString('hex')); if (got.length === 2) { console.log(JSON.stringify(got)); s.close(); } });
      s.bind(0, () => { for (const q of ${JSON.stringify(qs)}) s.send(Buffer.from(q, 'hex'), 53, '${GATEWAY}'); });
      setTimeout(() => { console.log(JSON.stringify(got)); process.exit(1); }, 15000).unref();`;
    const r = await g.exec(['node', '-e', script], { timeoutMs: 30_000 });
    const replies = (JSON.parse(r.stdout) as string[]).map((h) => new Uint8Array(Buffer.from(h, 'hex')));
    const byType = Object.fromEntries(replies.map((m) => [decode(m).questions![0]!.type, m]));
    assert.equal(replies.map((m) => decode(m).id), [0x4242, 0x4242]);
    if (name === 'dual.corp.test') {
      assert.equal(decode(byType.A!).answers!.map((a) => a.data), ['10.66.0.6']);
      assert.equal(decode(byType.AAAA!).answers!.map((a) => a.data), ['fd00:66::6']);
    } else {
      assert.equal(decode(byType.A!).answers!.map((a) => a.data), ['10.66.0.5']);
      assert.equal([rcodeOf(byType.AAAA!), decode(byType.AAAA!).answers!.length], [0, 0], 'NODATA, so the stub keeps the A answer');
    }
  }
  // glibc's getaddrinfo in the guest (AF_UNSPEC: A and AAAA in parallel on one socket).
  const ahosts = await g.exec(['getent', 'ahosts', 'dual.corp.test'], { timeoutMs: 30_000 });
  assert.match(ahosts.stdout, /^10\.66\.0\.6\s/m);
  assert.match(ahosts.stdout, /^fd00:66::6\s/m);
  const ahostsV4 = await g.exec(['getent', 'ahosts', 'vpn-only.corp.test'], { timeoutMs: 30_000 });
  assert.match(ahostsV4.stdout, /^10\.66\.0\.5\s/m);
  assert.ok(queriesFor(c, 'dual.corp.test').every((e) => e.via === 'host'));
});

it('the upstream list follows resolv.conf without a restart: renamed over, then rewritten in place (facade as it is)', async () => {
  const { child: c, socket } = await startChild(false, ['127.0.0.2']);
  const g = await guestOn(socket);
  assert.is((await dig(g, '+short', 'which.corp.test', 'TXT')).trim(), '"A"');
  writeResolvConf(['127.0.0.3'], 'rename');
  // Each attempt is a full DNS exchange; the bound is a hang guard, not a timing criterion.
  await waitUntil('answers from resolver B', async () => (await dig(g, '+short', 'which.corp.test', 'TXT')).trim() === '"B"', { timeoutMs: 30_000, intervalMs: 100 });
  let stats = await c.stats();
  assert.equal(stats.upstreams, ['127.0.0.3:53']);
  assert.is((stats.resolvConf as { reloads: number }).reloads, 1);
  writeResolvConf(['127.0.0.2'], 'in-place');
  await waitUntil('answers from resolver A again', async () => (await dig(g, '+short', 'which.corp.test', 'TXT')).trim() === '"A"', { timeoutMs: 30_000, intervalMs: 100 });
  stats = await c.stats();
  assert.equal(stats.upstreams, ['127.0.0.2:53']);
  assert.is((stats.resolvConf as { reloads: number }).reloads, 2);
  const servers = queriesFor(c, 'which.corp.test').map((e) => e.server);
  assert.is(servers[0], '127.0.0.2:53');
  assert.ok(servers.includes('127.0.0.3:53'));
});

test.run();
