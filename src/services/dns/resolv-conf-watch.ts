/**
 * Noticing that the host's resolv.conf changed, so the upstream list follows a VPN client or
 * DHCP rewriting it without a restart (user-needs.md rows 3, 4; vpnkit watches it too,
 * protocols.md §4.4).
 *
 * How the change is seen:
 * - The *directory* is watched, not the file: resolvconf, NetworkManager and most VPN clients
 *   write a new file and rename it over the old one, after which a watch on the old inode sees
 *   nothing. When the path is a symlink (systemd-resolved's `/run/systemd/resolve/stub-resolv.conf`,
 *   NetworkManager's `/run/NetworkManager/resolv.conf`) the directory of its target is watched
 *   too, since that is where the writes happen; the target is re-resolved on every check.
 * - Directory events are debounced (`debounceMs`) so a write-then-rename burst costs one reload.
 * - A periodic stat (`pollMs`) on the injected scheduler catches what watching misses: file
 *   systems without notifications, a directory that did not exist yet, a retargeted symlink.
 *
 * The watcher only says "may have changed"; the DNS service re-reads, compares the server list
 * and swaps it when it differs. Everything touching the file system goes through
 * {@link WatchedFiles}, so tests drive it with a fake and a ManualScheduler.
 * @module
 */
import type { Result } from 'neverthrow';
import type { VnetError } from '../../errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import { Timer } from '../../runtime/scheduler.js';

/** The file-system effects of watching, as a narrow interface (`node-files.ts` implements it). */
export interface WatchedFiles {
  /** Reads a whole text file. */
  read(path: string): Result<string, VnetError<'dns-resolv-conf'> & { readonly path: string }>;
  /**
   * What identifies the file's current content without reading it (inode, size, mtime, ctime,
   * following symlinks), or `undefined` when it does not exist.
   */
  signature(path: string): string | undefined;
  /** The path with every symlink resolved, or `undefined` when that fails. */
  realPath(path: string): string | undefined;
  /** The directory part of a path. */
  dirname(path: string): string;
  /** The last component of a path. */
  basename(path: string): string;
  /**
   * Watches a directory; `onChange` receives the name of the entry that changed, or `null` when
   * the platform does not say. Returns a function that stops watching, or an error message.
   */
  watchDirectory(dir: string, onChange: (entry: string | null) => void): Result<() => void, string>;
}

/** Timing of the watcher. */
export interface ResolvConfWatchOptions {
  /** Stat the file this often, ms (default 2000). */
  readonly pollMs?: number;
  /** Wait this long after a directory event before checking, ms (default 50). */
  readonly debounceMs?: number;
}

/** Watcher counters. */
export interface ResolvConfWatchStats {
  /** Directories being watched now. */
  readonly watching: readonly string[];
  /** Directory events that named our file (or no file). */
  readonly events: number;
  /** Checks that found a different signature and called `onChange`. */
  readonly changes: number;
  /** Why a directory could not be watched, if one could not (polling still runs). */
  readonly watchError: string | undefined;
}

/** Watches one resolv.conf path; calls `onChange` when its content may have changed. */
export class ResolvConfWatcher {
  private readonly pollMs: number;
  private readonly debounceMs: number;
  private readonly poll = new Timer(() => this.onPoll());
  private readonly debounce = new Timer(() => this.check());
  private readonly watches = new Map<string, () => void>();
  private lastSignature: string | undefined;
  private names = new Set<string>();
  private events = 0;
  private changes = 0;
  private watchError: string | undefined;
  private closed = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly files: WatchedFiles,
    private readonly path: string,
    private readonly onChange: () => void,
    opts: ResolvConfWatchOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 2000;
    this.debounceMs = opts.debounceMs ?? 50;
    this.lastSignature = files.signature(path);
    this.rewatch();
    runtime.scheduler.armIn(this.poll, this.pollMs);
  }

  /** Counters and what is being watched. */
  stats(): ResolvConfWatchStats {
    return { watching: [...this.watches.keys()], events: this.events, changes: this.changes, watchError: this.watchError };
  }

  /** Stops watching and polling. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runtime.scheduler.disarm(this.poll);
    this.runtime.scheduler.disarm(this.debounce);
    for (const stop of this.watches.values()) stop();
    this.watches.clear();
  }

  /** Compares the signature now with the last one; a difference is a (possible) change. */
  private check(): void {
    if (this.closed) return;
    this.rewatch();
    const sig = this.files.signature(this.path);
    if (sig === this.lastSignature) return;
    this.lastSignature = sig;
    this.changes++;
    try {
      this.onChange();
    } catch {
      // The service's reload never throws; if it did, watching must go on.
    }
  }

  private onPoll(): void {
    if (this.closed) return;
    this.check();
    this.runtime.scheduler.armIn(this.poll, this.pollMs);
  }

  /** Watches the file's directory and its symlink target's directory (re-resolved each time). */
  private rewatch(): void {
    const f = this.files;
    const want = new Map<string, string>();
    want.set(f.dirname(this.path), f.basename(this.path));
    const real = f.realPath(this.path);
    if (real !== undefined && real !== this.path) want.set(f.dirname(real), f.basename(real));
    this.names = new Set(want.values());
    for (const [dir, stop] of this.watches) {
      if (!want.has(dir)) {
        stop();
        this.watches.delete(dir);
      }
    }
    let error: string | undefined;
    for (const dir of want.keys()) {
      if (this.watches.has(dir)) continue;
      const w = f.watchDirectory(dir, (entry) => this.onEvent(entry));
      if (w.isOk()) this.watches.set(dir, w.value);
      else error = w.error;
    }
    // Retried at every check: a directory that appears later (a VPN creating /run/…) gets watched.
    this.watchError = error;
  }

  private onEvent(entry: string | null): void {
    if (this.closed) return;
    if (entry !== null && !this.names.has(entry)) return;
    this.events++;
    this.runtime.scheduler.armIn(this.debounce, this.debounceMs);
  }
}
