/**
 * What a benchmark result depends on, printed above every table: date, machine, kernel,
 * versions of node, passt and iperf3, the vnetkit commit, and the load average (the machine
 * may be shared; a high load explains a wide range).
 * @module
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';

/** The environment of one benchmark run. */
export interface Environment {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly kernel: string;
  readonly node: string;
  readonly passt: string;
  readonly iperf3: string;
  readonly commit: string;
}

function run(file: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], ...(cwd ? { cwd } : {}) }).trim();
  } catch {
    return 'unknown';
  }
}

/** Collects the environment; `repo` is the vnetkit checkout measured. */
export function describeEnvironment(repo: string): Environment {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const dirty = run('git', ['status', '--porcelain', '--', 'src'], repo);
  const head = run('git', ['rev-parse', '--short', 'HEAD'], repo);
  return {
    date: new Date().toISOString(),
    cpu: model,
    cores: cpus().length,
    kernel: run('uname', ['-r']),
    node: process.version,
    passt: run('dpkg-query', ['-W', '-f=${Version}', 'passt']),
    iperf3: run('iperf3', ['--version']).split('\n')[0] ?? 'unknown',
    commit: dirty === '' || dirty === 'unknown' ? head : `${head} + uncommitted changes in src/`,
  };
}

/** One line of load averages, e.g. `load 1.02 0.80 0.55`. */
export function loadLine(): string {
  return `load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
}

/** Formats the environment as a few `key: value` lines. */
export function formatEnvironment(e: Environment): string {
  return [
    `date: ${e.date}`,
    `machine: ${e.cores} cores, ${e.cpu}, Linux ${e.kernel}`,
    `versions: node ${e.node}, passt ${e.passt}, ${e.iperf3}`,
    `vnetkit: ${e.commit}`,
  ].join('\n');
}
