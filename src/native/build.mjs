#!/usr/bin/env node
/**
 * Builds the optional native addon (src/native/build/Release/vnetkit_native.node) with
 * node-gyp. Never fails the install: when there is no compiler, no Node headers or no
 * node-gyp, it prints a warning and exits 0, and vnetkit runs without AF_VSOCK/TAP/ping
 * support (src/native/index.ts then reports 'native-unavailable' with the reason).
 *
 * Usage: node src/native/build.mjs [--strict]   (--strict: exit 1 on failure, for CI)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes('--strict') || process.env.VNETKIT_NATIVE_STRICT === '1';
const output = join(here, 'build', 'Release', 'vnetkit_native.node');

function warn(msg) {
  process.stderr.write(`vnetkit: native addon not built: ${msg}\n`);
  process.stderr.write('vnetkit: AF_VSOCK, TAP, ping sockets and AF_HYPERV will be unavailable.\n');
  process.exit(strict ? 1 : 0);
}

/** Finds node-gyp: a local install, then the copy bundled with npm. */
function findNodeGyp() {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    /* not a project dependency; fall through to npm's bundled copy */
  }
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => existsSync(p));
}

if (process.env.VNETKIT_SKIP_NATIVE === '1') warn('VNETKIT_SKIP_NATIVE=1');
const gyp = findNodeGyp();
if (gyp === undefined) warn('node-gyp was not found (neither installed nor bundled with npm)');

// `rebuild` = clean + configure + build. Headers come from npm's nodedir setting (or
// node-gyp's own cache); nothing is downloaded when nodedir points at local headers.
const args = [gyp, 'rebuild', '--directory', here];
const nodedir = process.env.npm_config_nodedir;
if (nodedir === undefined && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.error) warn(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0) warn(`node-gyp exited with status ${r.status}`);
if (!existsSync(output)) warn(`node-gyp succeeded but ${output} is missing`);
process.stdout.write(`vnetkit: native addon built: ${output}\n`);
