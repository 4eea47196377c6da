import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
  ] as const) {
    const cfg = parseServeFlags(['--qemu', join(dir, 'x.sock'), '--log-level', 'error', ...args])._unsafeUnwrap();
    const t = io();
    assert.is(await serve(cfg, t.io), 2, args.join(' '));
    assert.match(t.err(), new RegExp(`^vnetkit: ${flag}: `), t.err());
    assert.is(t.err().trim().split('\n').length, 1);
  }
});

test('a socket that cannot be bound fails with exit 1 and a message', async () => {
  const cfg = parseServeFlags(['--qemu', join(dir, 'no-such-dir', 'q.sock'), '--log-level', 'error'])._unsafeUnwrap();
  const t = io();
  assert.is(await serve(cfg, t.io), 1);
  assert.match(t.err(), /^vnetkit: cannot listen on /);
});

test.run();
