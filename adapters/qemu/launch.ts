/**
 * Starts QEMU from {@link QemuLaunchOptions} and follows its serial console line by line:
 * `waitForLine(regex, timeoutMs)` is how a test waits for the guest, `exited` and `stop()` end it.
 *
 * Before spawning, each NIC's socket is checked: a client-mode NIC (`server=off`) needs a
 * listening peer, because QEMU 7.2 connects once, asynchronously, never retries and still boots
 * a guest whose NIC then carries nothing (vmlab README, pitfall 1); a server-mode NIC's path
 * must be free (a stale socket file is removed, a live one is an error).
 * @module
 */
import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Writable } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { ResultAsync, errAsync, okAsync } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../../src/errors.js';
import { SystemScheduler, Timer, type Scheduler } from '../../src/runtime/scheduler.js';
import { detectAccel, type AccelChoice, type AccelError, type AccelProbes, type AccelRequest } from './accel.js';
import { QEMU_BINARY, qemuArgvFromResolved } from './argv.js';
import { spawnSupervised, type SpawnError, type StopOptions, type SupervisedProcess, type VmExit } from './child-process.js';
import { ConsoleLineSplitter } from './console-lines.js';
import { validateQemuOptions, type QemuNic, type QemuOptions, type QemuOptionsError } from './options.js';

/** How to run QEMU, on top of the VM options. */
export interface QemuLaunchOptions extends Omit<QemuOptions, 'accel'> {
  /** Default `auto` (see `accel.ts`). */
  accel?: AccelRequest;
  /** Host probes for the accelerator decision, injectable for tests. */
  accelProbes?: AccelProbes;
  /** Receives the accelerator fallback reason and other warnings. Default: `NODE_DEBUG=vnetkit`. */
  log?: (message: string) => void;
  /** Default `qemu-system-x86_64` (looked up in PATH). */
  binary?: string;
  env?: Readonly<Record<string, string>>;
  /** Timer source for `waitForLine` timeouts and the stop grace period. Default: the real clock. */
  scheduler?: Scheduler;
  /** Console lines kept for `waitForLine` and error messages. Default 10 000. */
  historyLines?: number;
}

/** A NIC socket is not in the state QEMU needs. */
export type NetdevSocketError =
  | (VnetError<'netdev-peer-missing'> & { readonly socketPath: string })
  | (VnetError<'netdev-path-in-use'> & { readonly socketPath: string });

/** Failures of {@link startQemu}. */
export type QemuLaunchError = QemuOptionsError | AccelError | NetdevSocketError | SpawnError;

/** Why {@link QemuVm.waitForLine} gave up. `recent` holds the last console lines for the message. */
export type ConsoleWaitError =
  | (VnetError<'console-timeout'> & { readonly pattern: string; readonly timeoutMs: number; readonly recent: readonly string[] })
  | (VnetError<'vm-exited'> & { readonly exit: VmExit; readonly recent: readonly string[]; readonly stderr: string });

/** A console line that matched. */
export interface ConsoleMatch {
  readonly line: string;
  /** 0-based number of the line since QEMU started. */
  readonly index: number;
  readonly match: RegExpExecArray;
}

/** Events of a {@link QemuVm}. */
export interface QemuVmEvents {
  line: [line: string, index: number];
  exit: [VmExit];
}

/** A running QEMU and its console. */
export interface QemuVm {
  readonly pid: number;
  /** Arguments QEMU was started with (after the program name). */
  readonly argv: readonly string[];
  readonly accel: AccelChoice;
  /** The most recent console lines (at most `historyLines`). */
  readonly lines: readonly string[];
  /** Number of console lines received so far. */
  readonly lineCount: number;
  /** Serial console input. */
  readonly consoleInput: Writable;
  readonly events: EventEmitter<QemuVmEvents>;
  /**
   * The first console line (among those kept and those to come) matching `re`, only lines with an
   * index above `after` if given. Fails on timeout or when QEMU exits first.
   */
  waitForLine(re: RegExp, timeoutMs: number, options?: { after?: number }): ResultAsync<ConsoleMatch, ConsoleWaitError>;
  /** Resolves when QEMU has exited and its console is drained. Never rejects. */
  readonly exited: Promise<VmExit>;
  /** SIGTERM (QEMU shuts the VM down), then SIGKILL after `graceMs`. */
  stop(options?: StopOptions): Promise<VmExit>;
}

/** Validates, picks the accelerator, checks the NIC sockets and spawns QEMU. */
export function startQemu(options: QemuLaunchOptions): ResultAsync<QemuVm, QemuLaunchError> {
  const accel = detectAccel({
    request: options.accel ?? 'auto',
    ...(options.accelProbes ? { probes: options.accelProbes } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  if (accel.isErr()) return errAsync(accel.error);
  const resolved = validateQemuOptions({ ...options, accel: accel.value.accel });
  if (resolved.isErr()) return errAsync(resolved.error);
  const argv = qemuArgvFromResolved(resolved.value);
  const nics = resolved.value.nics;
  const binary = options.binary ?? QEMU_BINARY;
  const scheduler = options.scheduler ?? new SystemScheduler();

  return ResultAsync.combine(nics.map(prepareNicSocket))
    .andThen(() =>
      spawnSupervised(binary, argv, { ...(options.env ? { env: options.env } : {}), scheduler }).mapErr((e): QemuLaunchError =>
        (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' && options.binary === undefined
          ? { ...e, message: `${e.message} (install it: apt-get install qemu-system-x86)` }
          : e,
      ),
    )
    .map((child) => new RunningQemu(child, argv, accel.value, nics, scheduler, options.historyLines ?? 10_000));
}

function socketState(path: string): Promise<'absent' | 'socket' | 'other'> {
  return lstat(path).then(
    (st) => (st.isSocket() ? 'socket' : 'other'),
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return 'absent';
      throw e;
    },
  );
}

/** True if something accepts connections on the Unix socket `path`. */
function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function prepareNicSocket(nic: Required<QemuNic>): ResultAsync<void, NetdevSocketError> {
  const path = nic.socketPath;
  const io = (e: unknown): NetdevSocketError =>
    vnetError('netdev-path-in-use', `cannot check NIC socket ${path}: ${describeError(e)}`, { socketPath: path, cause: e });
  return ResultAsync.fromPromise(socketState(path), io).andThen((state): ResultAsync<void, NetdevSocketError> => {
    if (!nic.server) {
      if (state === 'socket') return okAsync(undefined);
      return errAsync(
        vnetError(
          'netdev-peer-missing',
          `no Unix socket at ${path}: start the network peer listening there before QEMU (QEMU 7.2 connects once and never retries), or use server mode`,
          { socketPath: path },
        ),
      );
    }
    if (state === 'absent') return okAsync(undefined);
    if (state === 'other') {
      return errAsync(vnetError('netdev-path-in-use', `${path} exists and is not a socket; QEMU cannot listen there`, { socketPath: path }));
    }
    return ResultAsync.fromPromise(isListening(path), io).andThen((live) =>
      live
        ? errAsync(vnetError('netdev-path-in-use', `something already listens on ${path}`, { socketPath: path }))
        : ResultAsync.fromPromise(unlink(path), io), // a stale socket file from an earlier run
    );
  });
}

interface Waiter {
  re: RegExp;
  after: number;
  timer: Timer;
  resolve(r: { ok: ConsoleMatch } | { err: ConsoleWaitError }): void;
}

class RunningQemu implements QemuVm {
  readonly events = new EventEmitter<QemuVmEvents>();
  readonly exited: Promise<VmExit>;
  private readonly history: string[] = [];
  private count = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly splitter = new ConsoleLineSplitter();
  /** Set once QEMU has exited and every console line was delivered. */
  private exit: VmExit | null = null;

  constructor(
    private readonly child: SupervisedProcess,
    readonly argv: readonly string[],
    readonly accel: AccelChoice,
    nics: readonly Required<QemuNic>[],
    private readonly scheduler: Scheduler,
    private readonly historyLines: number,
  ) {
    const out = child.stdout;
    out.on('data', (chunk: Buffer) => this.addLines(this.splitter.push(chunk)));
    out.once('end', () => this.addLines(this.splitter.end()));
    this.exited = child.exited.then(async (exit) => {
      // QEMU may leave its listening socket file behind; it is ours to clean.
      for (const nic of nics) {
        if (nic.server && (await socketState(nic.socketPath).catch(() => 'other')) === 'socket') {
          await unlink(nic.socketPath).catch(() => undefined);
        }
      }
      this.exit = exit;
      for (const w of [...this.waiters]) this.settle(w, { err: this.exitedError(exit) });
      this.events.emit('exit', exit);
      return exit;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  get lines(): readonly string[] {
    return this.history;
  }

  get lineCount(): number {
    return this.count;
  }

  get consoleInput(): Writable {
    return this.child.stdin;
  }

  stop(options?: StopOptions): Promise<VmExit> {
    return this.child.stop(options).then(() => this.exited);
  }

  waitForLine(re: RegExp, timeoutMs: number, options: { after?: number } = {}): ResultAsync<ConsoleMatch, ConsoleWaitError> {
    const after = options.after ?? -1;
    const first = this.count - this.history.length;
    for (let i = Math.max(after + 1, first); i < this.count; i++) {
      const line = this.history[i - first]!;
      const m = matchLine(re, line);
      if (m) return okAsync({ line, index: i, match: m });
    }
    if (this.exit !== null) return errAsync(this.exitedError(this.exit));
    const promise = new Promise<{ ok: ConsoleMatch } | { err: ConsoleWaitError }>((resolve) => {
      const w: Waiter = {
        re,
        after,
        resolve,
        timer: new Timer(() =>
          this.settle(w, {
            err: vnetError('console-timeout', `no console line matched ${re} within ${timeoutMs} ms${this.recentText()}`, {
              pattern: String(re),
              timeoutMs,
              recent: this.recent(),
            }),
          }),
        ),
      };
      this.waiters.add(w);
      this.scheduler.armIn(w.timer, timeoutMs);
    });
    return ResultAsync.fromSafePromise(promise).andThen((r) => ('ok' in r ? okAsync(r.ok) : errAsync(r.err)));
  }

  private addLines(lines: string[]): void {
    for (const line of lines) {
      const index = this.count++;
      this.history.push(line);
      if (this.history.length > this.historyLines) this.history.shift();
      this.events.emit('line', line, index);
      for (const w of [...this.waiters]) {
        if (index <= w.after) continue;
        const m = matchLine(w.re, line);
        if (m) this.settle(w, { ok: { line, index, match: m } });
      }
    }
  }

  private settle(w: Waiter, r: { ok: ConsoleMatch } | { err: ConsoleWaitError }): void {
    if (!this.waiters.delete(w)) return;
    this.scheduler.disarm(w.timer);
    w.resolve(r);
  }

  private exitedError(exit: VmExit): ConsoleWaitError {
    const stderr = this.child.stderrTail().trim();
    const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
    return vnetError('vm-exited', `QEMU exited (${how})${stderr ? `: ${stderr}` : ''}${this.recentText()}`, {
      exit,
      recent: this.recent(),
      stderr,
    });
  }

  private recent(n = 20): string[] {
    return this.history.slice(-n);
  }

  private recentText(): string {
    const r = this.recent(8);
    return r.length > 0 ? `; last console lines:\n  ${r.join('\n  ')}` : '; no console output';
  }
}

/** Matches without carrying `lastIndex` state between lines when the caller passes a /g regex. */
function matchLine(re: RegExp, line: string): RegExpExecArray | null {
  re.lastIndex = 0;
  return re.exec(line);
}
