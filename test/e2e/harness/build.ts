/**
 * Builds `tap-relay.c` into `test/e2e/harness/bin/` (gitignored) on demand, so e2e tests need
 * nothing but a C compiler and libc. The build is skipped when the binary is newer than the
 * source, and it writes to a temporary name first and renames, because several test processes
 * (and several engineers) may build at the same moment.
 * @module
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { findExecutable } from './find-executable.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Where the relay's source lives. */
export const RELAY_SOURCE = join(HERE, 'tap-relay.c');
/** Where {@link buildRelay} puts the binary. */
export const RELAY_BINARY = join(HERE, 'bin', 'tap-relay');

/** The C compilers tried, in order. */
const COMPILERS = ['cc', 'gcc', 'clang'];

/** The first C compiler on PATH, or undefined. */
export function findCompiler(): string | undefined {
  for (const name of COMPILERS) {
    const path = findExecutable(name);
    if (path) return path;
  }
  return undefined;
}

let building: Promise<string> | undefined;

/**
 * Returns the path of an up-to-date `tap-relay` binary, compiling it first when it is missing
 * or older than its source. Memoised: every test in a process shares one build.
 * Rejects with the compiler's diagnostics when the build fails, or with an install hint when
 * there is no C compiler.
 */
export function buildRelay(): Promise<string> {
  building ??= build().catch((e: unknown) => {
    building = undefined; // let a later call retry, e.g. after the compiler was installed
    throw e;
  });
  return building;
}

async function build(): Promise<string> {
  if (existsSync(RELAY_BINARY) && statSync(RELAY_BINARY).mtimeMs >= statSync(RELAY_SOURCE).mtimeMs) {
    return RELAY_BINARY;
  }
  const cc = findCompiler();
  if (!cc) {
    throw new Error(
      `cannot build ${RELAY_SOURCE}: no C compiler (${COMPILERS.join(', ')}) on PATH; ` +
        'install one, e.g. `apt-get install gcc libc6-dev`',
    );
  }
  mkdirSync(dirname(RELAY_BINARY), { recursive: true });
  const tmp = `${RELAY_BINARY}.${process.pid}.tmp`;
  const args = ['-O2', '-Wall', '-Werror', '-o', tmp, RELAY_SOURCE];
  const r = await execa(cc, args, { reject: false, timeout: 120_000, all: true });
  if (r.failed) {
    rmSync(tmp, { force: true });
    throw new Error(`building the TAP relay failed: ${cc} ${args.join(' ')} (${r.shortMessage})\n${r.all ?? ''}`);
  }
  renameSync(tmp, RELAY_BINARY); // atomic: a concurrent build never sees a half-written binary
  return RELAY_BINARY;
}
