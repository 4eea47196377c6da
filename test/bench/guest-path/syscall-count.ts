/**
 * Counts every system call a process makes during a workload, with `perf stat -e
 * raw_syscalls:sys_enter -p PID` (optional: `--syscalls`). `/proc/<pid>/io` is not used because
 * its syscr/syscw count only the read()/write() family, and passt talks to sockets with
 * recv()/sendmsg(), which it does not see. The tracepoint costs a little per call, so
 * CPU figures of a run with `--syscalls` are slightly pessimistic for both peers.
 * @module
 */
import { spawn } from 'node:child_process';
import { findExecutable } from '../../e2e/harness/find-executable.js';

/** A running count; `stop()` resolves with the number of system calls since the start. */
export interface SyscallCount {
  stop(): Promise<number>;
}

/** Why syscalls cannot be counted here, or undefined. */
export function syscallCountSkipReason(): string | undefined {
  return findExecutable('perf') ? undefined : 'perf is not installed (apt-get install linux-perf)';
}

/** Starts counting the system calls of `pid`. */
export async function countSyscalls(pid: number): Promise<SyscallCount> {
  const perf = spawn('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  perf.stderr!.on('data', (c: Buffer) => void (err += c.toString()));
  const closed = new Promise<void>((resolve) => perf.once('close', () => resolve()));
  // perf attaches asynchronously; a short pause keeps the first calls of the workload counted.
  await new Promise((r) => setTimeout(r, 200));
  return {
    async stop() {
      perf.kill('SIGINT');
      await closed;
      const m = /^(\d+),[^,]*,raw_syscalls:sys_enter/m.exec(err);
      return m ? Number(m[1]) : err.includes('<not counted>') ? 0 : NaN;
    },
  };
}
