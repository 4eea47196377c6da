/**
 * The namespace registry's promise: a test process that ends without closing its guests
 * (returns, throws, or is interrupted by SIGINT/SIGTERM) still removes every namespace it
 * created, with the processes inside. Runs `fixtures/leaky-guest.ts` as a child process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { e2eSkipReason } from './netns.js';
import { waitUntil, withTimeout } from './probes.js';

const skip = e2eSkipReason();
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/harness/registry.test.ts: ${skip}`);

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'leaky-guest.ts');
let dir = '';
test.before(() => {
  dir = mkdtempSync('/tmp/vnk-g-');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

for (const mode of ['exit', 'throw', 'SIGINT', 'SIGTERM'] as const) {
  it(`a test process that ends by ${mode} without close() leaves no namespace or process behind`, async () => {
    const signal = mode === 'SIGINT' || mode === 'SIGTERM' ? mode : undefined;
    const child = execa(process.execPath, ['--import', 'tsx', FIXTURE, signal ? 'wait' : mode, dir], { reject: false });
    let out = '';
    child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
    const name = await waitUntil('the fixture to print its namespace', () => /ns=(vnk-[0-9a-f]+)/.exec(out)?.[1], {
      timeoutMs: 60_000,
    });
    const inside = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
    assert.ok(inside.length >= 2, `relay and sleep inside ${name}: ${inside.join(',')}`);
    if (signal) child.kill(signal);
    else child.stdin.end('go\n');
    const r = await withTimeout(`fixture (${mode})`, child, 60_000);
    if (mode === 'exit') assert.is(r.exitCode, 0, r.stderr);
    if (mode === 'throw') assert.match(r.stderr, 'deliberate uncaught exception');
    if (signal) assert.is(r.signal, signal, 'the signal is re-raised, so the exit status still says so');
    assert.not.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), name);
    assert.not.ok(existsSync(`/etc/netns/${name}`));
    // A process leaves the namespace a moment before it is gone from the process table.
    await waitUntil(`pids ${inside.join(',')} from ${name} to be gone`, () => !inside.some(alive), { timeoutMs: 5_000 });
  });
}

test.run();
