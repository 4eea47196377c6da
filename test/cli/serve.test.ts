import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseServeFlags } from '../../src/cli/flags.js';
import { serve } from '../../src/cli/serve.js';

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let text = '';
  let errText = '';
  out.on('data', (c) => (text += c));
  err.on('data', (c) => (errText += c));
  let stop: ((s: string) => void) | undefined;
  return {
    io: { out, err, onSignal: (h: (s: string) => void) => (stop = h) },
    out: () => text,
    err: () => errText,
    signal: (s = 'SIGTERM') => stop?.(s),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'vnk-serve-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('serve prints ready with --json, then stops on a signal and unlinks its socket', async () => {
  const sock = join(dir, 'q.sock');
  const cfg = parseServeFlags(['--qemu', sock, '--json', '--log-level', 'error', '--dns-upstream', '127.0.0.1:9'])._unsafeUnwrap();
  const t = io();
  const done = serve(cfg, t.io);
  while (!t.out().includes('"event":"ready"')) await new Promise((r) => setTimeout(r, 5));
  assert.ok(existsSync(sock));
  t.signal();
  assert.is(await done, 0);
  assert.not.ok(existsSync(sock));
  assert.match(t.out(), /"event":"stopped","signal":"SIGTERM"/);
});

test('an invalid network option is reported under the flag that set it, exit 2', async () => {
  for (const [args, flag] of [
    [['--mtu', '70000'], '--mtu'],
    [['--subnet', '10.0.0.0/30'], '--subnet'],
    [['--dns-upstream', 'x:y'], '--dns-upstream'],
    [['--reserve', '02:00:00:00:00:01=10.1.1.1'], '--reserve'],
    [['--leases', join(dir, 'missing-dir', 'l.json')], '--leases'],
    [['--domain', 'bad..x'], '--domain'],
    [['--search', 'bad..x'], '--search'],
    [['--host-names', 'host.internal,bad..x'], '--host-names'],
    [['--gateway-names', 'bad..x'], '--gateway-names'],
    [['--lowest-ip', '192.168.65.200', '--highest-ip', '192.168.65.100'], '--lowest-ip'],
    [['--gateway-ip', '192.168.65.254'], '--gateway-ip'],
    [['--pcap', join(dir, 'missing-dir', 'x.pcap')], '--pcap'],
    [['--expose', '2222:10.0.0.5:22'], '--expose 127.0.0.1:2222:10.0.0.5:22/tcp'],
    [['--expose', '1.2.3.4:2222:192.168.65.2:22'], '--expose 1.2.3.4:2222:192.168.65.2:22/tcp'],
  ] as const) {
    const cfg = parseServeFlags(['--qemu', join(dir, 'x.sock'), '--log-level', 'error', ...args])._unsafeUnwrap();
    const t = io();
    assert.is(await serve(cfg, t.io), 2, args.join(' '));
    assert.ok(t.err().startsWith(`vnetkit: ${flag}: `), t.err());
    assert.is(t.err().split(flag.split(' ')[0]!).length, 2, `the flag is named once: ${t.err()}`);
    assert.is(t.err().trim().split('\n').length, 1);
  }
});

// cli.md, fixed addresses: an address already leased to another NIC is a clear error and that NIC
// keeps its lease, also when the lease comes from the leases file (it used to be skipped with a warning).
test('--reserve on an address the leases file gives another NIC: exit 2 under --reserve, file untouched', async () => {
  const leases = join(dir, 'leases-conflict.json');
  const doc = {
    version: 1,
    leases: [{ ip: '192.168.65.2', mac: '5a:94:ef:e4:0c:02', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), state: 'bound' }],
    spent: [],
  };
  writeFileSync(leases, JSON.stringify(doc));
  const before = readFileSync(leases, 'utf8');
  const sock = join(dir, 'conflict.sock');
  const args = ['--qemu', sock, '--dns-upstream', '127.0.0.1:9', '--leases', leases, '--reserve', '5a:94:ef:e4:0c:09=192.168.65.2'];
  const t = io();
  assert.is(await serve(parseServeFlags(args)._unsafeUnwrap(), t.io), 2);
  // The brief's command line, without --log-level: info lines may come first; the error is last.
  const lines = t.err().trim().split('\n');
  assert.match(lines.at(-1)!, /^vnetkit: --reserve: 192\.168\.65\.2 is already leased to mac:5a:94:ef:e4:0c:02 \(.*leases-conflict\.json.*that NIC keeps it\)$/, t.err());
  assert.not.match(t.err(), /skipped/);
  assert.is(readFileSync(leases, 'utf8'), before, 'the other NIC keeps its lease in the file');
  assert.not.ok(existsSync(sock), 'nothing was listening');

  // An expired lease for that address does not stand in the way.
  doc.leases[0]!.expiresAt = new Date(Date.now() - 1000).toISOString();
  writeFileSync(leases, JSON.stringify(doc));
  const t2 = io();
  const done = serve(parseServeFlags([...args, '--json', '--log-level', 'error'])._unsafeUnwrap(), t2.io);
  while (!t2.out().includes('"event":"ready"') && !t2.err()) await new Promise((r) => setTimeout(r, 5));
  assert.is(t2.err(), '');
  t2.signal();
  assert.is(await done, 0);
});

test('a socket that cannot be bound fails with exit 1 and a message', async () => {
  const cfg = parseServeFlags(['--qemu', join(dir, 'no-such-dir', 'q.sock'), '--log-level', 'error'])._unsafeUnwrap();
  const t = io();
  assert.is(await serve(cfg, t.io), 1);
  assert.match(t.err(), /^vnetkit: cannot listen on /);
});

test.run();
