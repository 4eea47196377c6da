/**
 * How the benchmark runs vnetkit. By default the sources are compiled with the project's
 * `tsconfig.build.json` into a private temporary directory (never into the repository's
 * `dist/`, which other work may be using) and `serve` runs as plain `node main.js`: under
 * `node --import tsx` the loader and its transpile cache add about 40 MiB of resident memory
 * and some CPU that are not the network's. `tsx` mode runs the sources directly instead.
 * @module
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { VnetkitCommand } from './peers.js';

/** `compiled`: tsc into a temp dir, then `node main.js`; `tsx`: `node --import tsx src/cli/main.ts`. */
export type VnetkitRunner = 'compiled' | 'tsx';

/**
 * Prepares the command. `compiled` runs tsc (tens of seconds) into `workDir/build`, links the
 * repository's `node_modules` next to it and copies `package.json` (for `"type": "module"`).
 * tsc's type errors do not stop the build (it still emits); they are returned as `warnings`.
 */
export async function prepareVnetkit(
  repo: string,
  runner: VnetkitRunner,
  workDir: string,
): Promise<{ command: VnetkitCommand; warnings: string }> {
  if (runner === 'tsx') return { command: { nodeArgs: ['--import', 'tsx', 'src/cli/main.ts'], cwd: repo }, warnings: '' };
  const out = join(workDir, 'build');
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  let warnings = '';
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(out, 'dist')], {
      cwd: repo,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (e) {
    warnings = String((e as { stdout?: string }).stdout ?? e);
  }
  const main = join(out, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`compiling vnetkit produced no ${main}:\n${warnings}`);
  symlinkSync(join(repo, 'node_modules'), join(out, 'node_modules'));
  copyFileSync(join(repo, 'package.json'), join(out, 'package.json'));
  return { command: { nodeArgs: [main], cwd: out }, warnings };
}
