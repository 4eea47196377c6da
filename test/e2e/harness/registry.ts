/**
 * Process-wide record of the network namespaces this process created, so that they are
 * removed even when a test throws, the process exits early, or someone presses Ctrl-C.
 *
 * Removal kills every process inside the namespace by PID (`ip netns pids`: they can only be
 * processes our tests started there), deletes the namespace and its `/etc/netns/<name>`
 * directory. The exit path must be synchronous, hence `spawnSync`.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/** A namespace this process created and still owns. */
export interface OwnedNamespace {
  /** The namespace name. */
  readonly name: string;
  /** PIDs started for it outside `ip netns exec` bookkeeping (killed first). */
  readonly pids: Set<number>;
}

const owned = new Map<string, OwnedNamespace>();
let hooksInstalled = false;

/** Records a namespace as ours; installs the exit and signal hooks on first use. */
export function registerNamespace(name: string): OwnedNamespace {
  installHooks();
  const entry: OwnedNamespace = { name, pids: new Set() };
  owned.set(name, entry);
  return entry;
}

/** Forgets a namespace after it was removed the orderly way. */
export function unregisterNamespace(name: string): void {
  owned.delete(name);
}

/** Names of the namespaces still owned (for tests of the harness). */
export function ownedNamespaces(): string[] {
  return [...owned.keys()];
}

/** The directory `ip netns exec` bind-mounts files from (e.g. resolv.conf) for `name`. */
export function etcNetnsDir(name: string): string {
  return `/etc/netns/${name}`;
}

/** PIDs of all processes whose network namespace is `name`. */
export function pidsInNamespace(name: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

/** Sends `signal` to `pid`, ignoring "no such process". */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Removes one namespace now, synchronously, with SIGKILL for everything in it. Used on exit;
 * `Guest.close()` does the same politely first.
 */
export function removeNamespaceSync(entry: OwnedNamespace): void {
  for (const pid of entry.pids) signalPid(pid, 'SIGKILL');
  // SIGKILL takes effect asynchronously; poll (bounded) until the namespace is empty, so that
  // nothing of ours outlives this call.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100; i++) {
    const left = pidsInNamespace(entry.name);
    if (left.length === 0) break;
    for (const pid of left) signalPid(pid, 'SIGKILL');
    Atomics.wait(sleeper, 0, 0, 20); // a synchronous 20 ms sleep: the exit path cannot await
  }
  spawnSync('ip', ['netns', 'delete', entry.name], { stdio: 'ignore', timeout: 10_000 });
  rmSync(etcNetnsDir(entry.name), { recursive: true, force: true });
  owned.delete(entry.name);
}

/** Removes every namespace still owned. Safe to call more than once. */
export function removeAllNamespacesSync(): void {
  for (const entry of [...owned.values()]) removeNamespaceSync(entry);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', removeAllNamespacesSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      removeAllNamespacesSync();
      // Re-raise with the default action so the exit status still says "killed by signal".
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
