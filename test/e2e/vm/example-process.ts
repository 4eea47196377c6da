/**
 * Runs a program from `examples/` as a child process (`node --import tsx examples/<file>`), the
 * way its README says to, and reads its stdout line by line. The child is killed (by its pid) in
 * `runCleanups()` if a test leaves it running.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deferCleanup } from './cleanup.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A running example. */
export interface ExampleProcess {
  readonly pid: number;
  /** stdout lines so far. */
  readonly lines: readonly string[];
  /** stderr so far. */
  readonly stderr: () => string;
  /** The first stdout line (kept or to come) matching `re`; fails when the program exits first or after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with how the program ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
}

/** Starts `examples/<file>` with `args` from the repository root. */
export function runExample(file: string, args: readonly string[]): ExampleProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of [...waiters]) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (stderr += s));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      if (partial !== '') lines.push(partial);
      partial = '';
      done = true;
      resolve({ code, signal });
      for (const w of [...waiters]) w();
    });
  });
  deferCleanup(`examples/${file} (pid ${child.pid})`, async () => {
    if (done) return;
    child.kill('SIGKILL');
    await exited;
  });
  const describe = (): string => `\n  stdout:\n    ${lines.join('\n    ')}\n  stderr:\n    ${stderr.trim().split('\n').join('\n    ')}`;
  return {
    pid: child.pid!,
    lines,
    stderr: () => stderr,
    exited,
    signal: (sig) => void child.kill(sig),
    waitForLine(re, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(() => reject(new Error(`examples/${file}: no line matched ${re} within ${timeoutMs} ms${describe()}`))), timeoutMs);
        const finish = (f: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        const check = (): void => {
          for (const l of lines) {
            const m = re.exec(l);
            if (m) return finish(() => resolve(m));
          }
          if (done) finish(() => reject(new Error(`examples/${file} exited before printing a line matching ${re}${describe()}`)));
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** True if a process with this pid exists (signal 0 only checks; it sends nothing). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
