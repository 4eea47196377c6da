import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { okOf, errOf } from '../qemu/support.js';
import { VPNKIT_UUID_FILE, prepareHyperkitState, resolveStateDir } from '../../../adapters/hyperkit/state.js';

/** A deterministic UUID source: 00000000-0000-4000-8000-00000000000N, N = 1, 2, … */
function counterUuids(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
}

const s = suite<{ root: string }>('hyperkit state', { root: '' });

s.before.each(async (ctx) => {
  ctx.root = await mkdtemp(join(tmpdir(), 'vk-state-'));
});
s.after.each(async (ctx) => {
  await rm(ctx.root, { recursive: true, force: true });
});

s('the state dir defaults to <prefix>-state; an explicit dir wins; neither is null', () => {
  assert.is(resolveStateDir({ prefix: '/img/lk' }), '/img/lk-state');
  assert.is(resolveStateDir({ prefix: '/img/lk', stateDir: '/other' }), '/other');
  assert.is(resolveStateDir({}), null);
});

s('first run creates the directory and vpnkit.uuid with mode 0600', async ({ root }) => {
  const prefix = join(root, 'lk');
  const st = okOf(await prepareHyperkitState({ prefix, randomUUID: counterUuids() }));
  assert.is(st.dir, `${prefix}-state`);
  assert.is(st.vpnkitUuid, '00000000-0000-4000-8000-000000000001');
  assert.is(st.vpnkitUuidSource, 'created');
  const file = join(st.dir, VPNKIT_UUID_FILE);
  assert.is((await readFile(file, 'utf8')).trim(), st.vpnkitUuid);
  assert.is((await stat(file)).mode & 0o777, 0o600);
});

s('later runs reuse the VPNKit UUID and get a fresh SMBIOS UUID each time', async ({ root }) => {
  const stateDir = join(root, 'st');
  const first = okOf(await prepareHyperkitState({ stateDir }));
  const second = okOf(await prepareHyperkitState({ stateDir }));
  assert.is(second.vpnkitUuid, first.vpnkitUuid);
  assert.is(second.vpnkitUuidSource, 'file');
  assert.is.not(second.smbiosUuid, first.smbiosUuid);
  assert.is.not(first.smbiosUuid, first.vpnkitUuid);
});

s('randomness is only drawn for what is new: run 2 uses one UUID (SMBIOS), not two', async ({ root }) => {
  const stateDir = join(root, 'st');
  const gen = counterUuids();
  const a = okOf(await prepareHyperkitState({ stateDir, randomUUID: gen }));
  const b = okOf(await prepareHyperkitState({ stateDir, randomUUID: gen }));
  assert.equal([a.vpnkitUuid, a.smbiosUuid, b.vpnkitUuid, b.smbiosUuid].map((u) => u.slice(-1)), ['1', '2', '1', '3']);
});

s('an explicit VPNKit UUID overrides the file and is not written', async ({ root }) => {
  const stateDir = join(root, 'st');
  const first = okOf(await prepareHyperkitState({ stateDir }));
  const explicit = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
  const st = okOf(await prepareHyperkitState({ stateDir, vpnkitUuid: explicit }));
  assert.is(st.vpnkitUuid, explicit.toLowerCase());
  assert.is(st.vpnkitUuidSource, 'explicit');
  assert.is((await readFile(join(stateDir, VPNKIT_UUID_FILE), 'utf8')).trim(), first.vpnkitUuid);
});

s('an explicit VPNKit UUID that is not a UUID is rejected before touching the disk', async ({ root }) => {
  const stateDir = join(root, 'never');
  const e = errOf(await prepareHyperkitState({ stateDir, vpnkitUuid: 'nope' }));
  assert.is(e.kind, 'invalid-vm-options');
  assert.is(await stat(stateDir).then(() => 'exists', () => 'absent'), 'absent');
});

s('a vpnkit.uuid that holds garbage is reported, not silently replaced', async ({ root }) => {
  const stateDir = join(root, 'st');
  okOf(await prepareHyperkitState({ stateDir }));
  const file = join(stateDir, VPNKIT_UUID_FILE);
  await writeFile(file, 'garbage\n');
  const e = errOf(await prepareHyperkitState({ stateDir }));
  assert.is(e.kind, 'state-corrupt');
  assert.ok('path' in e && e.path === file);
  assert.is(await readFile(file, 'utf8'), 'garbage\n');
});

s('neither prefix nor stateDir is an error', async () => {
  const e = errOf(await prepareHyperkitState({}));
  assert.is(e.kind, 'invalid-vm-options');
});

s('a state dir that cannot be created is a state-io error', async ({ root }) => {
  await writeFile(join(root, 'file'), 'x');
  const e = errOf(await prepareHyperkitState({ stateDir: join(root, 'file', 'sub') }));
  assert.is(e.kind, 'state-io');
});

s('two launches racing on a new state dir agree on one VPNKit UUID', async ({ root }) => {
  const stateDir = join(root, 'race');
  const [a, b] = await Promise.all([prepareHyperkitState({ stateDir }), prepareHyperkitState({ stateDir })]);
  assert.is(okOf(a).vpnkitUuid, okOf(b).vpnkitUuid);
  const onDisk = (await readFile(join(stateDir, VPNKIT_UUID_FILE), 'utf8')).trim();
  assert.is(okOf(a).vpnkitUuid, onDisk);
});

s.run();
