/**
 * The hyperkit launcher's lifecycle against a stand-in hyperkit: a small Node program that, like
 * hyperkit, creates its `-F` pidfile exclusively once "the VM exists", prints console output on
 * stdout, and reacts to SIGTERM — or ignores it, to exercise the SIGKILL path.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { errOf, guard, okOf } from '../qemu/support.js';
import { buildHyperkitArgv } from '../../../adapters/hyperkit/argv.js';
import { startHyperkit, type HyperkitLaunchOptions } from '../../../adapters/hyperkit/launch.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';

const FAKE_HYPERKIT = `#!${process.execPath}
import { openSync, writeSync, closeSync, unlinkSync } from 'node:fs';
const args = process.argv.slice(2);
const mode = process.env.FAKE_HYPERKIT_MODE ?? 'run';
const pidFile = args.includes('-F') ? args[args.indexOf('-F') + 1] : null;
const say = (s) => process.stdout.write(s + '\\r\\n');
if (mode === 'fail') {
  process.stderr.write('Invalid firmware argument\\n');
  process.exit(1);
}
// Handlers first: the launcher may signal as soon as the pidfile exists.
process.on('SIGTERM', () => {
  if (mode === 'ignore-term') return say('FAKE sigterm-ignored');
  say('FAKE sigterm');
  // Die of the signal itself, as hyperkit does (no atexit, so the pidfile stays behind).
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, 'SIGTERM');
});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (s) => {
  if (!s.includes('poweroff')) return;
  say('FAKE bye');
  if (pidFile) unlinkSync(pidFile); // hyperkit's atexit(remove_pidfile) on a clean exit
  process.exit(0);
});
say('FAKE argv=' + JSON.stringify(args));
if (mode === 'flood') process.stdout.write('x'.repeat(4 << 20));
if (pidFile) {
  const fd = openSync(pidFile, 'wx', 0o644); // O_CREAT|O_EXCL, as hyperkit's setup_pidfile
  writeSync(fd, String(process.pid));
  closeSync(fd);
}
say('FAKE vm-created');
setInterval(() => {}, 1 << 30);
`;

/** Reads `stream` until a line matches `re`; rejects if it ends first. */
function lineMatching(stream: Readable, re: RegExp): Promise<string> {
  return guard(
    new Promise((resolve, reject) => {
      let buf = '';
      const onData = (chunk: Buffer): void => {
        buf += chunk.toString('utf8');
        for (const line of buf.split('\n')) {
          if (re.test(line)) {
            stream.off('data', onData);
            resolve(line.replace(/\r$/, ''));
            return;
          }
        }
      };
      stream.on('data', onData);
      stream.once('end', () => reject(new Error(`console ended without ${re}`)));
    }),
    `a console line matching ${re}`,
  );
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

const s = suite<{ dir: string; fake: string }>('hyperkit launch (fake hyperkit)', { dir: '', fake: '' });

s.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), 'vk-hk-'));
  ctx.fake = join(ctx.dir, 'fake-hyperkit.mjs');
  await writeFile(ctx.fake, FAKE_HYPERKIT);
  await chmod(ctx.fake, 0o755);
});
s.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true });
});

function opts(ctx: { dir: string; fake: string }, extra: Partial<HyperkitLaunchOptions> = {}): HyperkitLaunchOptions {
  return {
    platform: 'darwin',
    binary: ctx.fake,
    stateDir: join(ctx.dir, 'vm-state'),
    kernel: '/img/k',
    initrd: '/img/i',
    cmdline: 'console=ttyS0',
    ...extra,
  };
}

s('refuses to run off macOS, naming the platform', async (ctx) => {
  const e = errOf(await startHyperkit(opts(ctx, { platform: 'linux' })));
  assert.is(e.kind, 'unsupported-platform');
  assert.match(e.message, /only on macOS/);
  assert.match(e.message, /linux/);
});

s('the default platform is the host (this Linux test host is refused)', async (ctx) => {
  if (process.platform === 'darwin') return; // on a Mac the default is allowed
  const { platform: _omit, ...rest } = opts(ctx);
  assert.is(errOf(await startHyperkit(rest)).kind, 'unsupported-platform');
});

s('invalid options are rejected before anything is spawned', async (ctx) => {
  const e = errOf(await startHyperkit(opts(ctx, { cpus: 0 })));
  assert.is(e.kind, 'invalid-vm-options');
  assert.is(await exists(join(ctx.dir, 'vm-state')), false);
});

s('a missing binary is spawn-failed', async (ctx) => {
  const e = errOf(await startHyperkit(opts(ctx, { binary: join(ctx.dir, 'no-such-hyperkit') })));
  assert.is(e.kind, 'spawn-failed');
});

s('start → started (pidfile) → console → SIGTERM stop; the argv is the built one; pidfile cleaned up', async (ctx) => {
  const o = opts(ctx);
  const vm = okOf(await startHyperkit(o));
  const seen: string[] = [];
  vm.events.on('started', () => seen.push('started'));
  vm.events.on('exit', (e) => seen.push(`exit ${e.signal}`));
  assert.equal(vm.argv, okOf(buildHyperkitArgv(o)));

  const argvLine = await lineMatching(vm.console!, /^FAKE argv=/);
  assert.equal(JSON.parse(argvLine.slice('FAKE argv='.length)), vm.argv);

  const started = okOf(await guard(Promise.resolve(vm.started), 'started'));
  assert.is(started.pid, vm.pid);
  assert.is(started.pidFile, join(ctx.dir, 'vm-state', 'hyperkit.pid'));
  assert.is(await readFile(started.pidFile!, 'utf8'), String(vm.pid));

  const exit = await guard(vm.stop({ graceMs: 60_000 }), 'exit after SIGTERM');
  assert.equal(exit, { code: null, signal: 'SIGTERM' });
  // The fake, like hyperkit on a signal, left its pidfile; the launcher removed it.
  assert.is(await exists(started.pidFile!), false);
  assert.equal(seen, ['started', 'exit SIGTERM']);
});

s('a hyperkit that ignores SIGTERM is SIGKILLed when the grace period ends (manual clock)', async (ctx) => {
  const scheduler = new ManualScheduler();
  const vm = okOf(await startHyperkit(opts(ctx, { scheduler, env: { FAKE_HYPERKIT_MODE: 'ignore-term' } })));
  okOf(await guard(Promise.resolve(vm.started), 'started'));
  const stopped = vm.stop({ graceMs: 1000 });
  await lineMatching(vm.console!, /^FAKE sigterm-ignored/);
  scheduler.advance(999);
  assert.is(scheduler.size, 1, 'SIGKILL still pending before the grace period ends');
  scheduler.advance(1);
  const exit = await guard(stopped, 'exit after SIGKILL');
  assert.equal(exit, { code: null, signal: 'SIGKILL' });
  assert.is(scheduler.size, 0);
  assert.is(await exists(join(ctx.dir, 'vm-state', 'hyperkit.pid')), false);
});

s('an early exit fails `started` with hyperkit stderr and the exit code', async (ctx) => {
  const vm = okOf(await startHyperkit(opts(ctx, { env: { FAKE_HYPERKIT_MODE: 'fail' } })));
  const e = errOf(await guard(Promise.resolve(vm.started), 'started'));
  assert.is(e.kind, 'vm-exited-early');
  assert.equal(e.exit, { code: 1, signal: null });
  assert.match(e.message, /Invalid firmware argument/);
  assert.equal(await vm.exited, { code: 1, signal: null });
});

s('console input reaches the VM; a clean poweroff exits 0 by itself', async (ctx) => {
  const vm = okOf(await startHyperkit(opts(ctx, { env: { FAKE_HYPERKIT_MODE: 'poweroff' } })));
  okOf(await guard(Promise.resolve(vm.started), 'started'));
  vm.consoleInput!.write('poweroff\n');
  await lineMatching(vm.console!, /^FAKE bye/);
  assert.equal(await guard(vm.exited, 'exit'), { code: 0, signal: null });
  assert.equal(await vm.stop(), { code: 0, signal: null }, 'stop after exit just reports the exit');
});

s('a stale pidfile from a dead hyperkit is removed (hyperkit would refuse it)', async (ctx) => {
  const stateDir = join(ctx.dir, 'vm-state');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid; // a pid that has certainly exited
  await mkdir(stateDir);
  await writeFile(join(stateDir, 'hyperkit.pid'), String(dead));
  const vm = okOf(await startHyperkit(opts(ctx)));
  okOf(await guard(Promise.resolve(vm.started), 'started'));
  await vm.stop({ graceMs: 60_000 });
});

s('a pidfile of a live process means the VM is already running', async (ctx) => {
  const stateDir = join(ctx.dir, 'vm-state');
  await mkdir(stateDir);
  await writeFile(join(stateDir, 'hyperkit.pid'), String(process.pid));
  const e = errOf(await startHyperkit(opts(ctx)));
  assert.is(e.kind, 'vm-already-running');
  assert.ok('pid' in e && e.pid === process.pid);
});

s('without a state dir there is no pidfile and "started" means spawned', async (ctx) => {
  const vm = okOf(await startHyperkit(opts(ctx, { stateDir: undefined })));
  assert.is(vm.pidFile, null);
  assert.not.ok(vm.argv.includes('-F'));
  assert.equal(okOf(await vm.started), { pid: vm.pid, pidFile: null });
  await lineMatching(vm.console!, /^FAKE vm-created/);
  await vm.stop({ graceMs: 60_000 });
});

s('unread console output is dropped and counted instead of stalling the VM', async (ctx) => {
  const vm = okOf(await startHyperkit(opts(ctx, { env: { FAKE_HYPERKIT_MODE: 'flood' }, consoleBufferBytes: 64 * 1024 })));
  // The fake writes its pidfile only after 4 MiB of output: started proves it was never blocked.
  okOf(await guard(Promise.resolve(vm.started), 'started after a 4 MiB flood'));
  assert.ok(vm.consoleDroppedBytes > 0, 'some console bytes were dropped');
  await vm.stop({ graceMs: 60_000 });
});

s('pty console: no console stream (hyperkit writes to <state>/tty)', async (ctx) => {
  const vm = okOf(await startHyperkit(opts(ctx, { console: 'pty' })));
  assert.is(vm.console, null);
  assert.is(vm.consoleInput, null);
  okOf(await guard(Promise.resolve(vm.started), 'started'));
  await vm.stop({ graceMs: 60_000 });
});

s.run();
