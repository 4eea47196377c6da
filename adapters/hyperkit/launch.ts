/**
 * Starts hyperkit from {@link HyperkitOptions} and follows the VM's lifecycle: `started` when
 * hyperkit has written its pidfile (it does so after creating the VM, so a bad option or a
 * failed VM creation shows up as an early exit instead), the serial console as a stream,
 * `exited`, and `stop()`.
 *
 * hyperkit exists only on macOS (it drives Hypervisor.framework); the platform and the binary
 * are injectable so the lifecycle can be tested elsewhere against a stand-in program.
 * @module
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { ResultAsync, errAsync, okAsync } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../../src/errors.js';
import type { Scheduler } from '../../src/runtime/scheduler.js';
import {
  spawnSupervised,
  type SpawnError,
  type StopOptions,
  type SupervisedProcess,
  type VmExit,
} from '../qemu/child-process.js';
import { HYPERKIT_STATE_FILES, hyperkitArgvFromResolved, hyperkitPidFile } from './argv.js';
import { validateHyperkitOptions, type HyperkitOptions, type HyperkitOptionsError } from './options.js';

/** How to run hyperkit, on top of the VM options. */
export interface HyperkitLaunchOptions extends HyperkitOptions {
  /** hyperkit executable. Default `hyperkit` (looked up in PATH). */
  binary?: string;
  /** The host platform; hyperkit needs `darwin`. Default `process.platform`. */
  platform?: NodeJS.Platform;
  /** Extra environment for hyperkit. */
  env?: Readonly<Record<string, string>>;
  /** Timer source for `stop()`'s grace period. Default: the real clock. */
  scheduler?: Scheduler;
  /**
   * Console bytes buffered while nobody reads {@link HyperkitVm.console}; beyond that output is
   * dropped (and counted) rather than letting a full pipe stall the guest. hyperkit also keeps
   * the log in `<state>/console-ring`. Default 1 MiB.
   */
  consoleBufferBytes?: number;
}

/** Failures of {@link startHyperkit}. */
export type HyperkitLaunchError =
  | (VnetError<'unsupported-platform'> & { readonly platform: string })
  | HyperkitOptionsError
  | (VnetError<'vm-already-running'> & { readonly pid: number; readonly pidFile: string })
  | (VnetError<'state-io'> & { readonly path: string })
  | SpawnError;

/** hyperkit ended before it reported the VM as created. */
export type HyperkitStartError = VnetError<'vm-exited-early'> & { readonly exit: VmExit; readonly stderr: string };

/** Reported once the VM exists. */
export interface HyperkitStarted {
  readonly pid: number;
  /** The pidfile hyperkit wrote, null when there is no state directory (then "started" = spawned). */
  readonly pidFile: string | null;
}

/** Events of a {@link HyperkitVm}. */
export interface HyperkitVmEvents {
  started: [HyperkitStarted];
  exit: [VmExit];
}

/** A hyperkit process and its VM. */
export interface HyperkitVm {
  readonly pid: number;
  /** Arguments hyperkit was started with (after the program name). */
  readonly argv: readonly string[];
  readonly pidFile: string | null;
  /** Serial console output (COM1 on stdio); null for the `pty` console. */
  readonly console: Readable | null;
  /** Serial console input; null for the `pty` console. */
  readonly consoleInput: Writable | null;
  /** Console bytes dropped because nobody read {@link console} fast enough. */
  readonly consoleDroppedBytes: number;
  /** Ok once the VM exists; Err if hyperkit exits first. */
  readonly started: ResultAsync<HyperkitStarted, HyperkitStartError>;
  /** Resolves when hyperkit has exited. Never rejects. */
  readonly exited: Promise<VmExit>;
  readonly events: EventEmitter<HyperkitVmEvents>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit. */
  stop(options?: StopOptions): Promise<VmExit>;
}

/**
 * Validates the options, clears a stale pidfile, and spawns hyperkit. Resolves as soon as the
 * process runs; await {@link HyperkitVm.started} to know the VM was created.
 */
export function startHyperkit(options: HyperkitLaunchOptions): ResultAsync<HyperkitVm, HyperkitLaunchError> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'darwin') {
    return errAsync(
      vnetError('unsupported-platform', `hyperkit runs only on macOS (darwin); this host is ${platform}. Use the QEMU adapter here.`, {
        platform,
      }),
    );
  }
  const resolved = validateHyperkitOptions(options);
  if (resolved.isErr()) return errAsync(resolved.error);
  const argv = hyperkitArgvFromResolved(resolved.value);
  const stateDir = resolved.value.stateDir;
  const pidFile = hyperkitPidFile(stateDir);
  const withConsole = resolved.value.console === 'stdio';

  const prepared: ResultAsync<FSWatcher | null, HyperkitLaunchError> =
    stateDir === null || pidFile === null
      ? okAsync(null)
      : ResultAsync.fromPromise(mkdir(stateDir, { recursive: true }), (e) => stateIo(stateDir, e))
          .andThen(() => clearStalePidFile(pidFile))
          // Watch before spawning so the pidfile cannot appear unseen.
          .andThen(() => ResultAsync.fromPromise(Promise.resolve().then(() => watch(stateDir)), (e) => stateIo(stateDir, e)));

  return prepared.andThen((watcher) =>
    spawnSupervised(options.binary ?? 'hyperkit', argv, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    })
      .mapErr((e): HyperkitLaunchError => {
        watcher?.close();
        return e;
      })
      .map((child) => new RunningHyperkit(child, argv, pidFile, watcher, withConsole, options.consoleBufferBytes ?? 1 << 20)),
  );
}

function stateIo(path: string, e: unknown): HyperkitLaunchError {
  return vnetError('state-io', `cannot prepare ${path}: ${describeError(e)}`, { path, cause: e });
}

/** The pid in a pidfile, or null if it is missing or unreadable. */
async function readPid(pidFile: string): Promise<number | null> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else — still running.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * hyperkit creates its pidfile with O_EXCL and refuses to start if it exists; a pidfile left by
 * a killed hyperkit (SIGKILL skips its atexit cleanup) is removed, a live one is an error.
 */
function clearStalePidFile(pidFile: string): ResultAsync<void, HyperkitLaunchError> {
  return ResultAsync.fromSafePromise(readPid(pidFile)).andThen((pid) => {
    if (pid !== null && isAlive(pid)) {
      return errAsync(
        vnetError('vm-already-running', `a hyperkit with pid ${pid} already uses ${pidFile}; stop it or use another state directory`, {
          pid,
          pidFile,
        }),
      );
    }
    return ResultAsync.fromPromise(
      unlink(pidFile).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      }),
      (e) => stateIo(pidFile, e),
    );
  });
}

class RunningHyperkit implements HyperkitVm {
  readonly events = new EventEmitter<HyperkitVmEvents>();
  readonly console: PassThrough | null;
  readonly consoleInput: Writable | null;
  readonly started: ResultAsync<HyperkitStarted, HyperkitStartError>;
  readonly exited: Promise<VmExit>;
  consoleDroppedBytes = 0;

  constructor(
    private readonly child: SupervisedProcess,
    readonly argv: readonly string[],
    readonly pidFile: string | null,
    private readonly watcher: FSWatcher | null,
    withConsole: boolean,
    consoleBufferBytes: number,
  ) {
    this.console = withConsole ? new PassThrough({ highWaterMark: consoleBufferBytes }) : null;
    this.consoleInput = withConsole ? child.stdin : null;
    this.pumpConsole();
    const startedOrNull = this.waitStarted();
    this.exited = child.exited.then(async (exit) => {
      // Decide "started" first: it reads the pidfile that the cleanup below removes.
      await startedOrNull;
      this.watcher?.close();
      await this.removeOwnPidFile();
      this.events.emit('exit', exit);
      return exit;
    });
    this.started = ResultAsync.fromSafePromise(startedOrNull).andThen((r) => {
      if (r === null) {
        const exit = child.exit!;
        const stderr = child.stderrTail().trim();
        return errAsync(
          vnetError(
            'vm-exited-early',
            `hyperkit exited (${formatExit(exit)}) before creating the VM${stderr ? `: ${stderr}` : ''}`,
            { exit, stderr },
          ),
        );
      }
      this.events.emit('started', r);
      return okAsync(r);
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  stop(options?: StopOptions): Promise<VmExit> {
    return this.child.stop(options).then(() => this.exited);
  }

  /** Copies stdout into the console stream; drops when the reader is far behind (see options). */
  private pumpConsole(): void {
    const out = this.child.stdout;
    const sink = this.console;
    if (sink === null) {
      out.resume(); // nothing is on stdout for the pty console; keep the pipe from filling anyway
      return;
    }
    out.on('data', (chunk: Buffer) => {
      if (sink.writableLength >= sink.writableHighWaterMark) this.consoleDroppedBytes += chunk.length;
      else sink.write(chunk);
    });
    out.once('end', () => sink.end());
  }

  /** Resolves with the start info, or null if hyperkit exited first. */
  private waitStarted(): Promise<HyperkitStarted | null> {
    const pid = this.child.pid;
    const pidFile = this.pidFile;
    if (pidFile === null || this.watcher === null) return Promise.resolve({ pid, pidFile: null });
    const watcher = this.watcher;
    return new Promise((resolve) => {
      let done = false;
      const check = (): void => {
        void readPid(pidFile).then((found) => {
          if (done || found !== pid) return;
          done = true;
          watcher.close();
          resolve({ pid, pidFile });
        });
      };
      watcher.on('change', (_event, name) => {
        if (name === null || String(name) === HYPERKIT_STATE_FILES.pidFile) check();
      });
      watcher.on('error', () => undefined);
      check(); // it may already be there
      void this.child.exited.then(async () => {
        // A last look: a VM that started and stopped at once still counts as started.
        if (!done && (await readPid(pidFile)) !== pid) {
          done = true;
          resolve(null);
        }
      });
    });
  }

  /** hyperkit removes its pidfile only on a clean exit; after a signal we do it, if it is ours. */
  private async removeOwnPidFile(): Promise<void> {
    if (this.pidFile === null) return;
    if ((await readPid(this.pidFile)) === this.child.pid) await unlink(this.pidFile).catch(() => undefined);
  }
}

/** `code 1` or `signal SIGTERM`, for messages. */
export function formatExit(exit: VmExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}
