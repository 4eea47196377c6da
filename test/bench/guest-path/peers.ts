/**
 * The two network peers the benchmark compares, each as its own process so that its CPU and
 * memory can be read alone: vnetkit's `serve` command and passt. Both listen on a Unix socket
 * and speak QEMU's stream framing, so the same namespace guest can be attached to either.
 *
 * Safety (no internet): vnetkit gets `--allow 127.0.0.0/8` and a loopback DNS upstream; passt
 * gets the guest's address, gateway and DNS explicitly (`-a -n -g -D`) so that it never hands
 * out the host's resolver, and no inbound forwards. The guest has no default route and only
 * ever dials the address the peer maps to host 127.0.0.1 ({@link Peer.target}).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from '../../e2e/harness/find-executable.js';
import { waitUntil } from '../../e2e/harness/probes.js';

/** Which network implementation serves the guest. */
export type PeerKind = 'vnetkit' | 'passt';

/** The guest subnet, as both peers are configured (vnetkit's defaults). */
export const GUEST_IP = '192.168.65.2';
export const GATEWAY_IP = '192.168.65.1';
export const PREFIX = 24;
/** vnetkit's host-loopback alias (`hostIp` default): guest traffic to it reaches host 127.0.0.1. */
export const VNETKIT_HOST_ALIAS = '192.168.65.254';

/** How to run vnetkit. */
export interface VnetkitCommand {
  /** The `node` arguments before `serve` (a compiled `main.js`, or `--import tsx src/cli/main.ts`). */
  readonly nodeArgs: readonly string[];
  /** Working directory (the repository for tsx). */
  readonly cwd: string;
}

/** Options of {@link startPeer}. */
export interface PeerOptions {
  readonly kind: PeerKind;
  /** Link MTU: vnetkit's `--mtu` (it sizes frame buffers), passt's `-m`. */
  readonly mtu: number;
  /** A private directory for the socket and logs. */
  readonly dir: string;
  /** Required for `vnetkit`. */
  readonly vnetkit?: VnetkitCommand;
  /** vnetkit only: write a V8 CPU profile (`--cpu-prof`) into this directory on exit. */
  readonly cpuProfDir?: string;
}

/** A running peer. */
export interface Peer {
  readonly kind: PeerKind;
  /** The PID whose `/proc` entries are sampled: the network process itself. */
  readonly pid: number;
  readonly socketPath: string;
  /** The address a guest dials to reach host 127.0.0.1 through this peer. */
  readonly target: string;
  /** The end of the peer's stdout and stderr (for error messages); all of it is in `<dir>/<kind>.log`. */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Why a peer cannot run here, or undefined. */
export function peerSkipReason(kind: PeerKind): string | undefined {
  if (kind === 'passt' && !findExecutable('passt')) return 'passt is not installed (apt-get install passt)';
  return undefined;
}

function passtArgs(o: PeerOptions, socketPath: string): string[] {
  const args = ['-f', '-q', '-4', '-s', socketPath, '-l', join(o.dir, 'passt.log')];
  // passt as root drops to "nobody" before binding its socket (vmlab README, pitfall 3).
  if (process.getuid?.() === 0) args.push('--runas', '0:0');
  args.push('-a', GUEST_IP, '-n', String(PREFIX), '-g', GATEWAY_IP, '-D', GATEWAY_IP, '--no-dhcp-search');
  args.push('-m', String(o.mtu), '-t', 'none', '-u', 'none');
  return args;
}

function vnetkitArgs(o: PeerOptions, socketPath: string): string[] {
  if (!o.vnetkit) throw new Error('startPeer: vnetkit needs a command');
  const prof = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  return [
    ...prof,
    ...o.vnetkit.nodeArgs,
    'serve',
    '--qemu',
    socketPath,
    '--allow',
    '127.0.0.0/8',
    '--dns-upstream',
    '127.0.0.1',
    '--mtu',
    String(o.mtu),
    '--log-level',
    'error',
  ];
}

/** Starts a peer and waits until its socket accepts connections. */
export async function startPeer(o: PeerOptions): Promise<Peer> {
  const socketPath = join(o.dir, `${o.kind}.sock`);
  const [file, args, cwd] =
    o.kind === 'passt'
      ? ['passt', passtArgs(o, socketPath), o.dir]
      : [process.execPath, vnetkitArgs(o, socketPath), o.vnetkit!.cwd];
  const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(o.dir, `${o.kind}.log`));
  let out = '';
  const collect = (c: Buffer): void => {
    log.write(c);
    out = (out + c.toString()).slice(-64 * 1024);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  void exitedPromise(child).then(() => log.end());
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<void> => {
    if (gone) return;
    child.kill('SIGTERM');
    // vnetkit writes its CPU profile on the way out; give it time.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const state = await waitUntil(
      `${o.kind} to listen on ${socketPath}`,
      () => {
        if (gone) return 'exited';
        // vnetkit prints its ready line after binding; passt has none (vmlab pitfall 3: check the socket).
        return existsSync(socketPath) && (o.kind === 'passt' || out.includes('ready')) ? 'ready' : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    if (state === 'exited') throw new Error(`${o.kind} exited before listening: ${file} ${args.join(' ')}\n${out}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    kind: o.kind,
    pid: pidOf(child),
    socketPath,
    target: o.kind === 'passt' ? GATEWAY_IP : VNETKIT_HOST_ALIAS,
    output: () => out,
    stop,
  };
}

function exitedPromise(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('close', () => resolve()));
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('peer process has no pid');
  return child.pid;
}
