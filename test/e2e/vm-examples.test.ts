/**
 * The programs in `examples/` run as their README says (`node --import tsx examples/<file>`), as
 * child processes, and print what they promise — so they cannot rot unnoticed.
 *
 * - `embed-minimal.ts`: a QEMU test guest boots against the socket it prints; its events, the
 *   exposed port (fetched from the host) and a clean close on SIGINT and on its timeout.
 * - `linuxkit-run.ts`: boots the test guest itself, prints the lease, exposes port 80, fetches
 *   it and stops cleanly; with `--keep`, SIGINT stops it cleanly too. Its QEMU is gone afterwards.
 *
 * Both networks get `--allow 127.0.0.0/8` semantics and a test resolver on 127.0.0.1 as their
 * only DNS upstream. Needs QEMU and the built guest; skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestVm } from './vm/boot.js';
import { runCleanups } from './vm/cleanup.js';
import { vmSkipReason } from './vm/guest-image.js';
import { processAlive, runExample } from './vm/example-process.js';
import { httpGetText } from './vm/host-client.js';
import { startResolver } from './vm/test-network.js';
import { withTimeout } from './harness/probes.js';

const skip = vmSkipReason();
if (skip !== null) console.log(`SKIP test/e2e/vm-examples.test.ts: ${skip}`);
const it = skip !== null ? test.skip : test;

/** How long a program may take to shut down once asked (it stops a VM: SIGTERM, SIGKILL after 5 s). */
const EXIT_MS = 60_000;

/** The program's exit, failing (with its output) instead of hanging when it never exits. */
function exitOf(ex: ReturnType<typeof runExample>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return withTimeout(`the example (pid ${ex.pid}) to exit; stdout so far: ${JSON.stringify(ex.lines.slice(-5))}`, ex.exited, EXIT_MS, () => ({ stdout: ex.lines.join('\n'), stderr: ex.stderr() }));
}

test.after.each(runCleanups);

it('embed-minimal: closes cleanly when its timeout ends', async () => {
  const resolver = await startResolver();
  const ex = runExample('embed-minimal.ts', ['--seconds', '1', '--dns-upstream', `127.0.0.1:${resolver.port}`]);
  await ex.waitForLine(/^listening: qemu \//);
  assert.equal(await exitOf(ex), { code: 0, signal: null }, ex.stderr());
  assert.ok(ex.lines.includes('stopping (timeout)'));
  assert.match(ex.lines.find((l) => l.startsWith('stats: ')) ?? '', /^stats: \{"nics":\[\]/);
  assert.is(ex.lines.at(-1), 'closed');
});

it('embed-minimal: prints the events of a VM that boots against it, exposes its port, and closes on SIGINT', async () => {
  const resolver = await startResolver();
  const ex = runExample('embed-minimal.ts', ['--seconds', '600', '--expose', '80', '--dns-upstream', `127.0.0.1:${resolver.port}`]);
  const socketPath = (await ex.waitForLine(/^listening: qemu (\S+)$/))[1]!;
  const vm = await TestVm.boot({ name: 'vm for embed-minimal', socketPath, mac: '52:54:00:00:0d:01', guest: { wget: false } });
  await ex.waitForLine(/^event nic-attached \{.*"transport":"qemu"/);
  const lease = JSON.parse((await ex.waitForLine(/^event lease (\{.*\})$/))[1]!) as { ip: string; mac: string };
  assert.equal([lease.ip, lease.mac], ['192.168.65.2', '52:54:00:00:0d:01']);
  const url = await ex.waitForLine(/^exposed: http:\/\/127\.0\.0\.1:(\d+)\/ -> 192\.168\.65\.2:80$/);
  await vm.marker('httpd-up');
  assert.equal(await httpGetText(Number(url[1])), { status: 200, body: 'hello from vmlab guest 192.168.65.2\n' });

  ex.signal('SIGINT');
  assert.equal(await exitOf(ex), { code: 0, signal: null }, ex.stderr());
  assert.ok(ex.lines.includes('stopping (SIGINT)'));
  const stats = JSON.parse(ex.lines.find((l) => l.startsWith('stats: '))!.slice('stats: '.length)) as { nics: Array<{ transport: string; framesIn: number }> };
  assert.is(stats.nics.length, 1);
  assert.ok(stats.nics[0]!.transport === 'qemu' && stats.nics[0]!.framesIn > 0);
  assert.ok(ex.lines.some((l) => l.startsWith('event nic-detached ')), 'closing the network detached the VM');
  assert.is(ex.lines.at(-1), 'closed');
});

/** The lines linuxkit-run prints up to the fetch, checked; returns the QEMU pid. */
async function checkLinuxkitRunOutput(ex: ReturnType<typeof runExample>): Promise<number> {
  const pid = Number((await ex.waitForLine(/^vm: qemu pid (\d+) \((tcg|kvm):/))[1]);
  await ex.waitForLine(/^lease: 192\.168\.65\.2 mac 52:54:00:12:34:56 hostname vmlab-guest$/);
  await ex.waitForLine(/^exposed: http:\/\/127\.0\.0\.1:\d+\/ -> 192\.168\.65\.2:80$/);
  await ex.waitForLine(/^fetched: 200 hello from vmlab guest 192\.168\.65\.2$/);
  return pid;
}

it('linuxkit-run: boots a VM, prints its lease, exposes and fetches port 80, and stops cleanly', async () => {
  const resolver = await startResolver();
  const ex = runExample('linuxkit-run.ts', ['--allow', '127.0.0.0/8', '--dns-upstream', `127.0.0.1:${resolver.port}`]);
  const qemuPid = await checkLinuxkitRunOutput(ex);
  assert.equal(await exitOf(ex), { code: 0, signal: null }, ex.stderr());
  assert.is(ex.lines.at(-1), 'stopped cleanly');
  assert.not.ok(processAlive(qemuPid), `QEMU (pid ${qemuPid}) is gone`);
});

it('linuxkit-run --keep: SIGINT stops the VM and the network cleanly', async () => {
  const resolver = await startResolver();
  const ex = runExample('linuxkit-run.ts', ['--keep', '--allow', '127.0.0.0/8', '--dns-upstream', `127.0.0.1:${resolver.port}`]);
  const qemuPid = await checkLinuxkitRunOutput(ex);
  await ex.waitForLine(/^running: /);
  assert.ok(processAlive(qemuPid), 'the VM keeps running until interrupted');
  ex.signal('SIGINT');
  assert.equal(await exitOf(ex), { code: 0, signal: null }, ex.stderr());
  assert.equal(ex.lines.slice(-2), ['interrupted: shutting down', 'stopped cleanly']);
  assert.not.ok(processAlive(qemuPid), `QEMU (pid ${qemuPid}) is gone`);
});

test.run();
