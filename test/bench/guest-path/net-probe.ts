/**
 * Builds and drives `net-probe.c`: the host-side echo server and the guest-side connection
 * rate (`crr`) and request/response (`rr`) clients. The binary is compiled on demand into the
 * benchmark's temporary directory, like the e2e harness builds its relay.
 * @module
 */
import { execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findCompiler } from '../../e2e/harness/build.js';
import type { Guest } from '../../e2e/harness/netns.js';
import { waitUntil } from '../../e2e/harness/probes.js';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'net-probe.c');

/** A rate measured in the guest. */
export interface RateResult {
  /** Completed transactions (connections, or request/response pairs) per second. */
  readonly perSecond: number;
  /** Completed transactions in total. */
  readonly transactions: number;
  /** Failed connects or exchanges (each is retried). */
  readonly errors: number;
}

/** Compiles net-probe into `dir`; returns the binary's path. */
export async function buildNetProbe(dir: string): Promise<string> {
  const cc = findCompiler();
  if (!cc) throw new Error('net-probe needs a C compiler (apt-get install gcc libc6-dev)');
  const bin = join(dir, 'net-probe');
  await promisify(execFile)(cc, ['-O2', '-Wall', '-Werror', '-o', bin, SOURCE]);
  return bin;
}

/**
 * Starts an echo server on 127.0.0.1 (ephemeral port). With `closeAfterEcho` it closes each
 * connection after the echo, as `crr` wants (see net-probe.c for why the server closes first).
 */
export async function startEchoServer(bin: string, closeAfterEcho: boolean): Promise<{ port: number; stop(): void }> {
  const child = spawn(bin, closeAfterEcho ? ['server', 'close'] : ['server'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => void (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => void (out += c.toString()));
  let port: number;
  try {
    port = await waitUntil(
      'net-probe server to print its port',
      () => {
        if (child.exitCode !== null) throw new Error(`net-probe server exited: ${out}`);
        const m = /^port (\d+)$/m.exec(out);
        return m ? Number(m[1]) : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
  } catch (e) {
    child.kill('SIGTERM'); // never leave a server behind
    throw e;
  }
  return { port, stop: () => void child.kill('SIGTERM') };
}

async function runProbe(guest: Guest, args: string[], seconds: number): Promise<RateResult> {
  const r = await guest.exec(args, { timeoutMs: (seconds + 30) * 1000 });
  const j = JSON.parse(r.stdout) as { transactions: number; seconds: number; errors: number };
  return { perSecond: j.transactions / j.seconds, transactions: j.transactions, errors: j.errors };
}

/** Connections per second: `parallel` loops of connect, 1-byte request, 1-byte reply, server's close, close. Needs a closing server. */
export function runCrr(guest: Guest, bin: string, target: string, port: number, seconds: number, parallel: number): Promise<RateResult> {
  return runProbe(guest, [bin, 'crr', target, String(port), String(seconds), String(parallel)], seconds);
}

/** Request/response pairs per second: 1-byte ping-pong over one connection. */
export function runRr(guest: Guest, bin: string, target: string, port: number, seconds: number): Promise<RateResult> {
  return runProbe(guest, [bin, 'rr', target, String(port), String(seconds)], seconds);
}
