import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Runs the real `vnetkit` entry point; resolves with its exit code and output. */
async function vnetkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

test('vnetkit --help and vnetkit serve --help print the usage and exit 0', async () => {
  for (const args of [['--help'], ['help'], ['serve', '--help'], ['serve', '--qemu', '/tmp/x.sock', '-h']]) {
    const r = await vnetkit(...args);
    assert.is(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^usage: vnetkit serve/, args.join(' '));
  }
});

test('no command prints the usage and exits 2; an unknown command or flag exits 2 naming it', async () => {
  const none = await vnetkit();
  assert.is(none.code, 2);
  assert.match(none.stdout, /^usage: vnetkit serve/);
  const unknown = await vnetkit('frobnicate');
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command: frobnicate/);
  const flag = await vnetkit('serve', '--bogus');
  assert.is(flag.code, 2);
  assert.match(flag.stderr, /--bogus/);
});

test.run();
