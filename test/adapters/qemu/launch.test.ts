/**
 * The QEMU launcher against a stand-in QEMU: a Node program that prints a serial console the
 * way QEMU passes the guest's through (escape codes, CRLF), listens on a `server=on` NIC socket
 * and, like QEMU, exits 0 on SIGTERM — or ignores it, to exercise SIGKILL. The real QEMU boot is
 * in test/e2e/qemu-boot.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AccelProbes } from '../../../adapters/qemu/accel.js';
import { startQemu, type QemuLaunchOptions } from '../../../adapters/qemu/launch.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { errOf, guard, okOf } from './support.js';

const FAKE_QEMU = `#!${process.execPath}
import { createServer } from 'node:net';
const args = process.argv.slice(2);
const mode = process.env.FAKE_QEMU_MODE ?? 'boot';
const out = (s) => process.stdout.write(s + '\\r\\n');
if (mode === 'fail') {
  process.stderr.write("qemu-system-x86_64: -netdev stream,id=n0: Parameter 'reconnect' is unexpected\\n");
  process.exit(1);
}
process.on('SIGTERM', () => {
  if (mode === 'hang') return out('FAKE sigterm-ignored');
  process.stderr.write('qemu-system-x86_64: terminating on signal 15\\n');
  process.exit(0); // QEMU shuts the VM down and exits 0 on SIGTERM
});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (s) => {
  if (s.includes('poweroff')) { out('VMLAB poweroff uptime=0.50'); process.exit(0); }
  if (s.includes('more')) out('VMLAB tick uptime=0.60 n=2');
});
const listen = [];
for (let i = 0; i < args.length; i++) {
  const m = args[i] === '-netdev' && /server=on,.*addr\\.path=(.*)$/.exec(args[i + 1]);
  if (m) listen.push(new Promise((r) => createServer().listen(m[1], r)));
}
await Promise.all(listen);
process.stdout.write('\\x1bc\\x1b[?7l\\x1b[2J');
out('FAKE argv=' + JSON.stringify(args));
out('VMLAB init uptime=0.10 kernel=fake');
out('VMLAB tick uptime=0.20 n=1');
setInterval(() => {}, 1 << 30);
`;

const noKvm: AccelProbes = { kvmDeviceUsable: () => false, isPvmHost: () => false };
const MAC = '52:54:00:12:34:56';
const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** A Unix socket file nobody listens on, as a killed QEMU leaves behind. */
function staleSocket(path: string): void {
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
  assert.is(r.status, 0);
}

const s = suite<{ dir: string; fake: string }>('qemu launch (fake qemu)', { dir: '', fake: '' });

s.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'vkq-'));
  ctx.fake = join(ctx.dir, 'fake-qemu.mjs');
  await writeFile(ctx.fake, FAKE_QEMU);
  await chmod(ctx.fake, 0o755);
});
s.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true });
});

function opts(ctx: { dir: string; fake: string }, extra: Partial<QemuLaunchOptions> = {}): QemuLaunchOptions {
  return {
    binary: ctx.fake,
    accelProbes: noKvm,
    log: () => undefined,
    kernel: '/img/vmlinux',
    initrd: '/img/initramfs.cpio.gz',
    nics: [{ socketPath: join(ctx.dir, 'n0.sock'), mac: MAC, server: true }],
    ...extra,
  };
}

s('console lines arrive cleaned; waitForLine also sees lines that came before the call', async (ctx) => {
  const vm = okOf(await startQemu(opts(ctx)));
  const tick = okOf(await guard(vm.waitForLine(/^VMLAB tick /, 20_000), 'tick'));
  // init came earlier, after the escape codes; it is in the history, clean.
  const init = okOf(await vm.waitForLine(/^VMLAB init /, 20_000));
  assert.is(init.line, 'VMLAB init uptime=0.10 kernel=fake');
  assert.ok(init.index < tick.index);
  const argvLine = okOf(await vm.waitForLine(/^FAKE argv=(.*)$/, 20_000));
  assert.equal(JSON.parse(argvLine.match[1]!), vm.argv);
  await vm.stop();
});

s('the argv carries the detected accelerator and the NIC', async (ctx) => {
  const vm = okOf(await startQemu(opts(ctx)));
  assert.equal(vm.accel.accel, 'tcg');
  assert.equal(vm.argv.slice(0, 2), ['-accel', 'tcg,tb-size=32']);
  assert.ok(vm.argv.includes(`stream,id=n0,server=on,addr.type=unix,addr.path=${join(ctx.dir, 'n0.sock')}`));
  await vm.stop();
});

s('after: skips lines up to an index; lines are also events', async (ctx) => {
  const vm = okOf(await startQemu(opts(ctx)));
  const seen: string[] = [];
  vm.events.on('line', (l) => seen.push(l));
  const first = okOf(await guard(vm.waitForLine(/^VMLAB tick /, 20_000), 'tick 1'));
  const next = vm.waitForLine(/^VMLAB tick /, 20_000, { after: first.index });
  vm.consoleInput.write('more\n');
  const second = okOf(await guard(next, 'tick 2'));
  assert.is(second.line, 'VMLAB tick uptime=0.60 n=2');
  assert.ok(seen.includes('VMLAB tick uptime=0.60 n=2'));
  assert.is(vm.lineCount, second.index + 1);
  await vm.stop();
});

s('a line that never comes times out (manual clock) with the recent console in the error', async (ctx) => {
  const scheduler = new ManualScheduler();
  const vm = okOf(await startQemu(opts(ctx, { scheduler })));
  okOf(await guard(vm.waitForLine(/^VMLAB tick /, 5000), 'tick'));
  const waiting = vm.waitForLine(/^VMLAB never/, 5000);
  scheduler.advance(4999);
  assert.is(scheduler.size, 1);
  scheduler.advance(1);
  const e = errOf(await waiting);
  assert.is(e.kind, 'console-timeout');
  assert.ok('recent' in e && e.recent.includes('VMLAB tick uptime=0.20 n=1'));
  assert.match(e.message, /VMLAB tick/);
  await vm.stop();
});

s('QEMU exiting before the line fails the wait with its stderr', async (ctx) => {
  const vm = okOf(await startQemu(opts(ctx, { env: { FAKE_QEMU_MODE: 'fail' } })));
  const e = errOf(await guard(vm.waitForLine(/^VMLAB init/, 20_000), 'exit'));
  assert.is(e.kind, 'vm-exited');
  assert.ok('exit' in e && e.exit.code === 1);
  assert.match(e.message, /Parameter 'reconnect' is unexpected/);
  // Waiting again after the exit fails at once, same error.
  assert.is(errOf(await vm.waitForLine(/x/, 20_000)).kind, 'vm-exited');
});

s('a guest poweroff ends QEMU by itself with code 0; the server socket file is removed', async (ctx) => {
  const sock = join(ctx.dir, 'n0.sock');
  const vm = okOf(await startQemu(opts(ctx)));
  okOf(await guard(vm.waitForLine(/^VMLAB init/, 20_000), 'init'));
  assert.ok(await exists(sock), 'the fake listens on the server socket');
  vm.consoleInput.write('poweroff\n');
  assert.equal(await guard(vm.exited, 'exit'), { code: 0, signal: null });
  assert.is(vm.lines.at(-1), 'VMLAB poweroff uptime=0.50');
  assert.is(await exists(sock), false);
});

s('stop(): SIGTERM, QEMU exits 0', async (ctx) => {
  const vm = okOf(await startQemu(opts(ctx)));
  okOf(await guard(vm.waitForLine(/^VMLAB init/, 20_000), 'init'));
  assert.equal(await guard(vm.stop({ graceMs: 60_000 }), 'stop'), { code: 0, signal: null });
});

s('stop(): a QEMU ignoring SIGTERM is SIGKILLed after the grace period (manual clock)', async (ctx) => {
  const scheduler = new ManualScheduler();
  const vm = okOf(await startQemu(opts(ctx, { scheduler, env: { FAKE_QEMU_MODE: 'hang' } })));
  okOf(await guard(vm.waitForLine(/^VMLAB init/, 20_000), 'init'));
  const stopped = vm.stop({ graceMs: 2000 });
  okOf(await guard(vm.waitForLine(/^FAKE sigterm-ignored/, 20_000), 'SIGTERM ignored'));
  scheduler.advance(2000);
  assert.equal(await guard(stopped, 'SIGKILL'), { code: null, signal: 'SIGKILL' });
});

s('client-mode NIC without a listening peer is refused before QEMU starts', async (ctx) => {
  const sock = join(ctx.dir, 'peer.sock');
  const e = errOf(await startQemu(opts(ctx, { nics: [{ socketPath: sock, mac: MAC }] })));
  assert.is(e.kind, 'netdev-peer-missing');
  assert.match(e.message, /start the network peer/);
});

s('client-mode NIC with a listening peer starts', async (ctx) => {
  const sock = join(ctx.dir, 'peer.sock');
  const peer: Server = createServer();
  await new Promise<void>((r) => peer.listen(sock, r));
  try {
    const vm = okOf(await startQemu(opts(ctx, { nics: [{ socketPath: sock, mac: MAC }] })));
    okOf(await guard(vm.waitForLine(/^VMLAB init/, 20_000), 'init'));
    await vm.stop();
  } finally {
    await new Promise((r) => peer.close(r));
  }
});

s('server-mode NIC: a stale socket file is removed and QEMU can listen', async (ctx) => {
  const sock = join(ctx.dir, 'n0.sock');
  staleSocket(sock);
  assert.ok(await exists(sock));
  const vm = okOf(await startQemu(opts(ctx)));
  okOf(await guard(vm.waitForLine(/^VMLAB init/, 20_000), 'init'));
  await vm.stop();
});

s('server-mode NIC: a live listener on the path is an error', async (ctx) => {
  const sock = join(ctx.dir, 'n0.sock');
  const other: Server = createServer();
  await new Promise<void>((r) => other.listen(sock, r));
  try {
    const e = errOf(await startQemu(opts(ctx)));
    assert.is(e.kind, 'netdev-path-in-use');
  } finally {
    await new Promise((r) => other.close(r));
  }
});

s('server-mode NIC: a regular file on the path is an error and is left alone', async (ctx) => {
  const sock = join(ctx.dir, 'n0.sock');
  await writeFile(sock, 'precious');
  assert.is(errOf(await startQemu(opts(ctx))).kind, 'netdev-path-in-use');
  assert.ok(await exists(sock));
});

s('forcing kvm without /dev/kvm fails before spawning', async (ctx) => {
  assert.is(errOf(await startQemu(opts(ctx, { accel: 'kvm' }))).kind, 'accel-unavailable');
});

s('invalid options fail before spawning', async (ctx) => {
  assert.is(errOf(await startQemu(opts(ctx, { memoryMiB: 64 }))).kind, 'invalid-vm-options');
});

s('a missing binary is spawn-failed', async (ctx) => {
  assert.is(errOf(await startQemu(opts(ctx, { binary: join(ctx.dir, 'no-qemu') }))).kind, 'spawn-failed');
});

s.run();
