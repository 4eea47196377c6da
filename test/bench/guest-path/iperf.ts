/**
 * Bulk TCP throughput with iperf3: the server runs on the host bound to 127.0.0.1, the client
 * in the guest dials the peer's host-loopback address. Results come from iperf3's own JSON
 * (`-J`): bytes and bits per second as the receiving side counted them, and the sender's
 * retransmissions (a hint of drops on the path).
 * @module
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Guest } from '../../e2e/harness/netns.js';
import { waitUntil } from '../../e2e/harness/probes.js';

/** One iperf3 run. */
export interface IperfResult {
  readonly bitsPerSecond: number;
  /** Payload bytes the receiver got. */
  readonly bytes: number;
  /** TCP retransmissions of the sender (the guest's for upload, the host's for `-R`). */
  readonly retransmits: number;
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough for a private benchmark). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts `iperf3 -s` on 127.0.0.1:`port`; it serves one test at a time, for the whole benchmark. */
export async function startIperfServer(port: number): Promise<{ stop(): void }> {
  const child = spawn('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port), '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => void (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => void (out += c.toString()));
  try {
    await waitUntil(`iperf3 -s on 127.0.0.1:${port}`, () => out.includes('Server listening') || child.exitCode !== null, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    if (child.exitCode !== null) throw new Error(`iperf3 -s exited: ${out}`);
  } catch (e) {
    child.kill('SIGTERM'); // never leave a server behind
    throw e;
  }
  return { stop: () => void child.kill('SIGTERM') };
}

interface IperfJson {
  error?: string;
  end?: {
    sum_sent?: { retransmits?: number };
    sum_received?: { bytes: number; bits_per_second: number };
  };
}

/** Runs `iperf3 -c target -p port -t seconds -J [-R]` in the guest. */
export async function runIperf(guest: Guest, target: string, port: number, seconds: number, reverse: boolean): Promise<IperfResult> {
  const cmd = ['iperf3', '-c', target, '-p', String(port), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])];
  const r = await guest.exec(cmd, { timeoutMs: (seconds + 30) * 1000, reject: false });
  let j: IperfJson;
  try {
    j = JSON.parse(r.stdout) as IperfJson;
  } catch {
    throw new Error(`iperf3 gave no JSON (exit ${r.exitCode}): ${r.stderr || r.stdout}`);
  }
  const recv = j.end?.sum_received;
  if (j.error !== undefined || recv === undefined) throw new Error(`iperf3 ${cmd.slice(1).join(' ')}: ${j.error ?? 'no end summary'}`);
  return { bitsPerSecond: recv.bits_per_second, bytes: recv.bytes, retransmits: j.end?.sum_sent?.retransmits ?? 0 };
}
