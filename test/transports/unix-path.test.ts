import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { claimUnixPath } from '../../src/transports/unix-path.js';

const dir = mkdtempSync(join(tmpdir(), 'vnk-up-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a free path is free', async () => {
  assert.is(await claimUnixPath(join(dir, 'free.sock')), undefined);
});

test('a stale socket file (its server gone) is removed', async () => {
  const p = join(dir, 'stale.sock');
  // A process that exits while listening leaves its socket file behind (closing would unlink it).
  const { execa } = await import('execa');
  await execa('node', ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.exit(0))`]);
  assert.ok(existsSync(p), 'the dead process left its socket file');
  assert.is(await claimUnixPath(p), undefined);
  assert.not.ok(existsSync(p));
});

test('a live socket is in use and stays', async () => {
  const p = join(dir, 'live.sock');
  const s = createServer();
  await new Promise<void>((r) => s.listen(p, r));
  assert.is(await claimUnixPath(p), 'in-use');
  assert.ok(existsSync(p));
  s.close();
});

test('a regular file is never deleted', async () => {
  const p = join(dir, 'file');
  writeFileSync(p, 'data');
  assert.is(await claimUnixPath(p), 'not-a-socket');
  assert.ok(existsSync(p));
});

test.run();
