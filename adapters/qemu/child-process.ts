/**
 * One hypervisor process under supervision: spawned with execa, its exit observed once, and
 * stopped politely (SIGTERM) then firmly (SIGKILL after a grace period). Shared by the QEMU and
 * hyperkit launchers, which add console handling on top.
 *
 * Timers go through a {@link Scheduler} from `src/runtime/`, so a test can drive the grace
 * period with a `ManualScheduler` instead of waiting for it (style §5.3).
 * @module
 */
import type { Readable, Writable } from 'node:stream';
import type { ResultPromise } from 'execa';
import { ResultAsync } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../../src/errors.js';
import { SystemScheduler, Timer, type Scheduler } from '../../src/runtime/scheduler.js';

/** How a VM process ended: an exit code, or the signal that killed it. */
export interface VmExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options of {@link SupervisedProcess.stop}. */
export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL, in ms. Default {@link DEFAULT_STOP_GRACE_MS}. */
  graceMs?: number;
}

/** Grace period between SIGTERM and SIGKILL when none is given. */
export const DEFAULT_STOP_GRACE_MS = 5000;

/** The binary could not be started at all (missing, not executable, …). */
export type SpawnError = VnetError<'spawn-failed'> & { readonly binary: string };

/** How to spawn a supervised process. */
export interface SpawnOptions {
  /** Extra environment variables, added to the parent's. */
  env?: Readonly<Record<string, string>>;
  /** Timer source for the stop grace period. Default: a real-clock `SystemScheduler`. */
  scheduler?: Scheduler;
}

/** Bytes of stderr kept for error messages. */
const STDERR_TAIL_BYTES = 4096;

/** A running (or finished) child process with a single, never-rejecting exit promise. */
export class SupervisedProcess {
  /** Resolves once the process has exited and its stdio is closed. Never rejects. */
  readonly exited: Promise<VmExit>;
  private exitValue: VmExit | null = null;
  private stderrBuf = '';
  private stopping: Promise<VmExit> | null = null;
  private readonly killTimer: Timer;

  constructor(
    /** Process id. */
    readonly pid: number,
    private readonly proc: ResultPromise,
    private readonly scheduler: Scheduler,
  ) {
    this.killTimer = new Timer(() => this.signal('SIGKILL'));
    // Console input written after the VM died fails with EPIPE; that is not worth crashing over.
    proc.stdin?.on('error', () => undefined);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (s: string) => {
      this.stderrBuf = (this.stderrBuf + s).slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise<VmExit>((resolve) => {
      // 'close' (not 'exit'): by then stdout is drained, so no console line arrives after `exited`.
      proc.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.exitValue = { code, signal };
        this.scheduler.disarm(this.killTimer);
        resolve(this.exitValue);
      });
    });
    // execa's own promise would reject on a non-zero exit without `reject: false`; it is set,
    // but keep a handler so no rejection can ever be unhandled.
    proc.catch(() => undefined);
  }

  /** The process's stdout (the serial console for `-serial stdio` / `com1,stdio`). */
  get stdout(): Readable {
    return this.proc.stdout!;
  }

  /** The process's stdin (typing into the serial console). */
  get stdin(): Writable {
    return this.proc.stdin!;
  }

  /** How it exited, or null while running. */
  get exit(): VmExit | null {
    return this.exitValue;
  }

  /** The last few KiB the process wrote to stderr (hypervisors explain failures there). */
  stderrTail(): string {
    return this.stderrBuf;
  }

  /** Sends a signal; false if the process is already gone. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.exitValue !== null) return false;
    try {
      return this.proc.kill(sig);
    } catch {
      return false;
    }
  }

  /**
   * SIGTERM, then SIGKILL if the process is still there after `graceMs`. Resolves with the exit.
   * Calling again while stopping only shortens the grace period, never lengthens it.
   */
  stop(options: StopOptions = {}): Promise<VmExit> {
    if (this.exitValue !== null) return Promise.resolve(this.exitValue);
    const grace = Math.max(0, options.graceMs ?? DEFAULT_STOP_GRACE_MS);
    const killAt = this.scheduler.clock.now() + grace;
    if (this.killTimer.at > killAt) this.scheduler.arm(this.killTimer, killAt);
    if (this.stopping === null) {
      this.proc.stdin?.end();
      this.signal('SIGTERM');
      this.stopping = this.exited;
    }
    return this.stopping;
  }
}

/**
 * Starts `binary` with `args` (no shell), stdio piped. Resolves once the OS has started it, or
 * fails with `spawn-failed` when it cannot run (ENOENT, EACCES).
 */
export function spawnSupervised(
  binary: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ResultAsync<SupervisedProcess, SpawnError> {
  const scheduler = options.scheduler ?? new SystemScheduler();
  const started = loadExeca().then(
    ({ execa }) =>
      new Promise<SupervisedProcess>((resolve, reject) => {
        const proc = execa(binary, args, {
          stdin: 'pipe',
          stdout: 'pipe',
          stderr: 'pipe',
          buffer: false,
          reject: false,
          // Our own SIGTERM→SIGKILL runs on the injected scheduler; execa's timer would not.
          forceKillAfterDelay: false,
          // Kill the VM if this Node process exits without stopping it.
          cleanup: true,
          env: { ...options.env },
        });
        proc.catch(() => undefined);
        proc.once('spawn', () => resolve(new SupervisedProcess(proc.pid!, proc, scheduler)));
        proc.once('error', reject);
      }),
  );
  return ResultAsync.fromPromise(started, (e) =>
    vnetError('spawn-failed', `cannot start ${binary}: ${describeError(e)}`, { binary, cause: e }),
  );
}

let execaModule: Promise<typeof import('execa')> | undefined;

/**
 * execa 9 is ESM-only (and so are its dependencies); a static import makes this module, and all
 * that import it, unloadable by CommonJS test runners such as `uvu -r tsx`. `import()` works in
 * both module systems, so execa is loaded on first use.
 */
function loadExeca(): Promise<typeof import('execa')> {
  return (execaModule ??= import('execa'));
}
