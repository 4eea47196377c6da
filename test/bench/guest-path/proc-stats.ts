/**
 * CPU time and memory of one process, read from `/proc` (Linux). The benchmark samples the
 * network process (the vnetkit `serve` child or passt) before and after each workload, so the
 * figures are that process's alone: utime + stime cover all of its threads (libuv's pool
 * included), VmHWM is its peak resident set since it started.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clkTck: number | undefined;

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on most Linux builds). */
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds a process has used so far, split as the kernel accounts them. */
export interface CpuSample {
  /** User-mode seconds (JavaScript, C, libc). */
  readonly user: number;
  /** Kernel-mode seconds (syscalls: socket reads and writes, epoll). */
  readonly system: number;
}

/** Reads utime and stime (fields 14 and 15 of `/proc/<pid>/stat`). */
export function readCpu(pid: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const hz = ticksPerSecond();
  return { user: Number(fields[11]) / hz, system: Number(fields[12]) / hz };
}

/** The CPU used between two samples. */
export function cpuDelta(before: CpuSample, after: CpuSample): CpuSample {
  return { user: after.user - before.user, system: after.system - before.system };
}

/** Resident memory in MiB: now (VmRSS) and the peak so far (VmHWM). */
export interface MemorySample {
  readonly rssMiB: number;
  readonly peakMiB: number;
}

/** Reads VmRSS and VmHWM from `/proc/<pid>/status`. */
export function readMemory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

