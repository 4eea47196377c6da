/**
 * Linux-kernel guests for end-to-end tests: a network namespace whose only NIC is a TAP device,
 * with `tap-relay` carrying that TAP's frames to a vnetkit transport over a Unix stream socket.
 * To the code under test this looks exactly like a VM connecting with QEMU's stream netdev,
 * HyperKit's vmnet, or gvisor-tap-vsock's stdio framing, but it boots in milliseconds.
 *
 * Every guest is recorded in a process-wide registry (`registry.ts`) that removes it on exit or
 * on SIGINT/SIGTERM. Tests should still call `close()`, or `closeAllGuests()` in an after-hook.
 * @module
 */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execa, type Result, type ResultPromise } from 'execa';
import { buildRelay, findCompiler } from './build.js';
import { findExecutable } from './find-executable.js';
import { HarnessError, formatCommand } from './harness-error.js';
import { waitUntil, withTimeout } from './probes.js';
import {
  etcNetnsDir,
  pidsInNamespace,
  registerNamespace,
  signalPid,
  unregisterNamespace,
  type OwnedNamespace,
} from './registry.js';

/** How frames are delimited on the socket (protocols.md §6, §1). */
export type Framing = 'qemu' | 'vmnet' | 'stdio';

/** How to build a guest. */
export interface GuestOptions {
  /** The Unix stream socket the relay connects to (the transport under test listens there). */
  readonly socketPath: string;
  /** Socket framing: `qemu` (u32 BE), `stdio` (u16 LE), `vmnet` (§1 handshake, then u16 LE). */
  readonly framing: Framing;
  /** TAP MAC (qemu/stdio framing only; vmnet takes it from the Vif response). */
  readonly mac?: string;
  /** TAP MTU (qemu/stdio framing only). Up to 65521, the TAP limit. */
  readonly mtu?: number;
  /** vmnet: the UUID in the command (default: 36 NUL bytes, "server picks"). */
  readonly uuid?: string;
  /** vmnet: send command 8 (preferred IPv4) with this address. */
  readonly preferredIp?: string;
  /** Send `CONNECT <port>\n` first and require `OK <port>\n` (protocols.md §2.6). */
  readonly hybridVsockPort?: number;
  /** Relay socket send buffer in bytes (small values force partial writes; tests only). */
  readonly sndbuf?: number;
  /** TAP device name inside the namespace (default `tap0`). */
  readonly tap?: string;
  /** How long to wait for the relay's `ready` line (default 30 s). */
  readonly readyTimeoutMs?: number;
}

/** The vmnet Vif response as the relay reported it (protocols.md §1.5). */
export interface VifInfo {
  readonly mtu: number;
  readonly maxPacket: number;
  readonly mac: string;
}

/** Options for {@link Guest.exec}. */
export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  readonly timeoutMs?: number;
  /** Bytes or text for the command's stdin. */
  readonly input?: string | Uint8Array;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** When false, a failed command resolves with its result instead of throwing (default true). */
  readonly reject?: boolean;
}

/** The execa options of every background process (stdin is closed: use `exec` to feed input). */
type SpawnOptions = { reject: false; stdin: 'ignore'; env?: Readonly<Record<string, string>> };
/** A finished command. */
export type ExecResult = Result<{ reject: false }>;
/** A background process inside a guest (stdin closed); awaiting it gives its result. */
export type GuestProcess = ResultPromise<SpawnOptions>;

/** A network namespace guest connected to a vnetkit transport. */
export interface Guest {
  /** The namespace name (`vnk-` + random hex). */
  readonly name: string;
  /** The TAP device name inside the namespace. */
  readonly tap: string;
  /** The TAP's MAC address, read from the kernel once the relay was ready. */
  readonly mac: string;
  /** The parsed `vif` line (vmnet framing only). */
  readonly vif: VifInfo | undefined;
  /** The relay process (`ip netns exec NS tap-relay ...`; its PID is the relay's). */
  readonly relay: GuestProcess;
  /** The relay's stderr so far. */
  relayStderr(): string;
  /** Waits for the relay to exit (e.g. after the peer closed); throws after `timeoutMs`. */
  waitRelayExit(timeoutMs?: number): Promise<ExecResult>;
  /** Runs `cmd` inside the namespace; throws a {@link HarnessError} when it fails unless `reject: false`. */
  exec(cmd: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts `cmd` in the background inside the namespace; `close()` kills it. The process does
   * not keep Node's event loop alive: wait for it with `withTimeout()` (probes.ts), not bare.
   */
  spawn(cmd: readonly string[], opts?: { readonly env?: Readonly<Record<string, string>> }): GuestProcess;
  /** `ip addr add CIDR dev TAP`. */
  setAddress(cidr: string): Promise<void>;
  /** `ip route replace default via IP dev TAP`. */
  setDefaultRoute(ip: string): Promise<void>;
  /** Kills the relay and every process in the namespace, deletes it. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const KILL_GRACE_MS = 3_000;

/**
 * Why e2e tests cannot run here, or undefined when they can: they need Linux, root, `ip`,
 * `/dev/net/tun` and a C compiler (for the relay), plus any extra `tools` a test names.
 */
export function e2eSkipReason(tools: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux') return `e2e tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'e2e tests need root (network namespaces, TAP devices)';
  if (!findExecutable('ip')) return 'e2e tests need `ip` (apt-get install iproute2)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'e2e tests need /dev/net/tun (modprobe tun)';
  }
  if (!findCompiler()) return 'e2e tests need a C compiler to build tap-relay (apt-get install gcc libc6-dev)';
  for (const tool of tools) if (!findExecutable(tool)) return `this e2e test needs \`${tool}\` on PATH`;
  return undefined;
}

/** Every guest not closed yet, for {@link closeAllGuests}. */
const openGuests = new Set<Guest>();

/** Closes every guest this process still has open; meant for `test.after.each`. */
export async function closeAllGuests(): Promise<void> {
  await Promise.all([...openGuests].map((g) => g.close()));
}

/** Runs a host-side command, throwing a {@link HarnessError} that names the namespace on failure. */
async function run(ns: string, file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeout = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const r = await execa(file, args, {
    reject: false,
    timeout,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.env ? { env: opts.env } : {}),
  });
  if (r.failed && opts.reject !== false) {
    const ran = r.exitCode !== undefined || r.signal !== undefined;
    const why = r.timedOut ? `timed out after ${timeout} ms` : ran ? 'failed' : 'could not run';
    throw new HarnessError(`command ${why}`, {
      namespace: ns,
      command: formatCommand([file, ...args]),
      exitCode: r.exitCode,
      signal: r.signal,
      stderr: ran ? r.stderr : r.shortMessage,
      stdout: r.stdout,
    });
  }
  return r;
}

function relayArgs(o: GuestOptions, tap: string): string[] {
  const args = ['--tap', tap, '--connect', o.socketPath, '--framing', o.framing];
  if (o.mac !== undefined) args.push('--mac', o.mac);
  if (o.mtu !== undefined) args.push('--mtu', String(o.mtu));
  if (o.uuid !== undefined) args.push('--uuid', o.uuid);
  if (o.preferredIp !== undefined) args.push('--preferred-ip', o.preferredIp);
  if (o.hybridVsockPort !== undefined) args.push('--hybrid-vsock-port', String(o.hybridVsockPort));
  if (o.sndbuf !== undefined) args.push('--sndbuf', String(o.sndbuf));
  return args;
}

/** Parses the relay's `vif mtu=N max_packet=N mac=..` line. */
export function parseVifLine(line: string): VifInfo | undefined {
  const m = /^vif mtu=(\d+) max_packet=(\d+) mac=([0-9a-f:]{17})$/.exec(line.trim());
  return m ? { mtu: Number(m[1]), maxPacket: Number(m[2]), mac: m[3]! } : undefined;
}

/**
 * Waits for the relay's `ready` line; resolves with the `vif` line if one came first.
 * Rejects when the relay exits first or the deadline passes.
 */
function waitReady(
  ns: string,
  command: string,
  relay: GuestProcess,
  timeoutMs: number,
  stderr: () => string,
): Promise<VifInfo | undefined> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let vif: VifInfo | undefined;
    const fail = (summary: string, extra: { exitCode?: number | undefined; signal?: string | undefined } = {}): void => {
      cleanup();
      reject(new HarnessError(summary, { namespace: ns, command, stderr: stderr(), stdout, ...extra }));
    };
    const onOut = (chunk: Buffer): void => {
      stdout += chunk.toString();
      for (const line of stdout.split('\n').slice(0, -1)) {
        vif ??= parseVifLine(line);
        if (line.trim() === 'ready') {
          cleanup();
          resolve(vif);
          return;
        }
      }
    };
    const timer = setTimeout(() => fail(`tap-relay not ready after ${timeoutMs} ms`), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      relay.stdout?.off('data', onOut);
    };
    relay.stdout?.on('data', onOut);
    // After `ready` this is a no-op: a settled promise ignores the late reject.
    void relay.then((r) => fail('tap-relay exited before it was ready', { exitCode: r.exitCode, signal: r.signal }));
  });
}

/** True once the process has exited (its stdio may still be held open by its children). */
function exited(proc: GuestProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined;
}

/** The {@link Guest} implementation; {@link createGuest} is the way to make one. */
class NetnsGuest implements Guest {
  readonly name = `vnk-${randomBytes(4).toString('hex')}`;
  readonly tap: string;
  mac = '';
  vif: VifInfo | undefined;
  relay!: GuestProcess; // assigned in start(), before createGuest hands the guest out
  private relayCommand = '';
  private stderr = '';
  private readonly owned: OwnedNamespace = registerNamespace(this.name);
  private readonly children = new Set<GuestProcess>();
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: GuestOptions) {
    this.tap = opts.tap ?? 'tap0';
  }

  /** Namespace, resolv.conf, loopback, relay; throws with the relay's stderr on failure. */
  async start(relayBin: string): Promise<void> {
    await run(this.name, 'ip', ['netns', 'add', this.name]);
    openGuests.add(this);
    mkdirSync(etcNetnsDir(this.name), { recursive: true });
    writeFileSync(`${etcNetnsDir(this.name)}/resolv.conf`, '');
    await this.exec(['ip', 'link', 'set', 'lo', 'up']);

    const argv = ['netns', 'exec', this.name, relayBin, ...relayArgs(this.opts, this.tap)];
    this.relayCommand = formatCommand(['ip', ...argv]);
    this.relay = this.track(execa('ip', argv, { reject: false, stdin: 'ignore' } satisfies SpawnOptions));
    this.relay.stderr?.on('data', (c: Buffer) => void (this.stderr += c.toString()));
    const timeoutMs = this.opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    this.vif = await waitReady(this.name, this.relayCommand, this.relay, timeoutMs, () => this.stderr);
    this.mac = (await this.exec(['cat', `/sys/class/net/${this.tap}/address`])).stdout.trim();
  }

  relayStderr(): string {
    return this.stderr;
  }

  waitRelayExit(timeoutMs = 30_000): Promise<ExecResult> {
    return withTimeout('tap-relay exit', this.relay, timeoutMs, () => ({
      namespace: this.name,
      command: this.relayCommand,
      stderr: this.stderr,
    }));
  }

  exec(cmd: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(this.name, 'ip', ['netns', 'exec', this.name, ...cmd], opts);
  }

  spawn(cmd: readonly string[], opts: { readonly env?: Readonly<Record<string, string>> } = {}): GuestProcess {
    const o: SpawnOptions = { reject: false, stdin: 'ignore', ...(opts.env ? { env: opts.env } : {}) };
    return this.track(execa('ip', ['netns', 'exec', this.name, ...cmd], o));
  }

  async setAddress(cidr: string): Promise<void> {
    await this.exec(['ip', 'addr', 'add', cidr, 'dev', this.tap]);
  }

  async setDefaultRoute(ip: string): Promise<void> {
    await this.exec(['ip', 'route', 'replace', 'default', 'via', ip, 'dev', this.tap]);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      openGuests.delete(this);
      // Politely first: SIGTERM lets a relay or daemon exit cleanly.
      const procs = [...this.children];
      for (const p of procs) if (!exited(p)) p.kill('SIGTERM');
      await waitUntil('processes to exit after SIGTERM', () => procs.every(exited), {
        timeoutMs: KILL_GRACE_MS,
        intervalMs: 20,
      }).catch(() => undefined);
      // Then everything still inside, including children a test backgrounded with
      // `sh -c '... &'` (ours too: they live in our namespace). SIGKILL is delivered
      // asynchronously, so wait until the namespace is really empty.
      await waitUntil(
        'the namespace to have no processes left',
        () => {
          const left = [...pidsInNamespace(this.name), ...procs.filter((p) => !exited(p)).map((p) => p.pid!)];
          for (const pid of left) signalPid(pid, 'SIGKILL');
          return left.length === 0;
        },
        { namespace: this.name, timeoutMs: 10_000, intervalMs: 20 },
      );
      // Only now can the execa promises settle: a killed grandchild may have held their pipes.
      await withTimeout('reaping the guest processes', Promise.all(procs), 10_000, () => ({ namespace: this.name }));
      await run(this.name, 'ip', ['netns', 'delete', this.name], { reject: false });
      rmSync(etcNetnsDir(this.name), { recursive: true, force: true });
      unregisterNamespace(this.name);
    })();
    return this.closing;
  }

  /**
   * Records a process for close() and the exit hook, and unrefs it: a guest's processes must
   * not keep a finished (or failed) test process alive, or the exit hook that removes the
   * namespace would never run. Whoever waits for one uses a timer (withTimeout), which does.
   */
  private track(proc: GuestProcess): GuestProcess {
    proc.unref();
    for (const s of [proc.stdout, proc.stderr]) (s as { unref?: () => void } | null)?.unref?.();
    this.children.add(proc);
    const pid = proc.pid;
    if (pid !== undefined) this.owned.pids.add(pid);
    void proc.then(() => {
      this.children.delete(proc);
      if (pid !== undefined) this.owned.pids.delete(pid);
    });
    return proc;
  }
}

/**
 * Creates a namespace guest: `ip netns add`, `lo` up, an empty `/etc/netns/<name>/resolv.conf`
 * (so that nothing inside the guest sees or writes the host's resolver config), then starts
 * `tap-relay` inside it and waits for `ready`. On any failure everything created is removed
 * and a {@link HarnessError} with the relay's stderr is thrown.
 */
export async function createGuest(opts: GuestOptions): Promise<Guest> {
  const relayBin = await buildRelay();
  const guest = new NetnsGuest(opts);
  try {
    await guest.start(relayBin);
    return guest;
  } catch (e) {
    await guest.close();
    throw e;
  }
}
