/**
 * An in-memory file system behind the DNS service's {@link WatchedFiles}: files with inode
 * numbers, symlinks, and directory watchers that fire when the test writes — or stay silent, to
 * exercise the polling fallback. Paths are POSIX.
 */
import { posix } from 'node:path';
import { err, ok } from 'neverthrow';
import type { WatchedFiles } from '../../../src/services/dns/resolv-conf-watch.js';

interface FakeFile {
  text: string;
  ino: number;
  version: number;
}

/** The fake file system. */
export class FakeFiles implements WatchedFiles {
  private readonly files = new Map<string, FakeFile>();
  private readonly links = new Map<string, string>();
  private readonly watchers = new Map<string, Set<(entry: string | null) => void>>();
  private nextIno = 1;
  /** Directories that cannot be watched (watchDirectory fails). */
  readonly unwatchable = new Set<string>();
  /** When true, writes do not notify watchers (a file system without notifications). */
  silent = false;
  /** Reads performed, by path. */
  readonly reads: string[] = [];

  /** Rewrites a file in place (same inode), as an editor saving over it or `>` in a shell. */
  write(path: string, text: string): void {
    const f = this.files.get(path);
    if (f === undefined) this.files.set(path, { text, ino: this.nextIno++, version: 0 });
    else {
      f.text = text;
      f.version++;
    }
    this.notify(path, f === undefined ? 'rename' : 'change');
  }

  /** Writes a new file and renames it over `path` (a new inode), as resolvconf and VPN clients do. */
  replace(path: string, text: string): void {
    const tmp = `${path}.tmp`;
    this.files.set(tmp, { text, ino: this.nextIno++, version: 0 });
    this.notify(tmp, 'rename');
    this.files.set(path, this.files.get(tmp)!);
    this.files.delete(tmp);
    this.notify(tmp, 'rename');
    this.notify(path, 'rename');
  }

  /** Deletes a file. */
  remove(path: string): void {
    this.files.delete(path);
    this.notify(path, 'rename');
  }

  /** Makes `path` a symlink to `target` (absolute). */
  symlink(path: string, target: string): void {
    this.links.set(path, target);
    this.notify(path, 'rename');
  }

  /** Fires a directory event for `path` without changing anything (a spurious notification). */
  emit(path: string): void {
    this.notify(path, 'change');
  }

  /** Directories watched now. */
  watchedDirs(): string[] {
    return [...this.watchers].filter(([, s]) => s.size > 0).map(([d]) => d);
  }

  read(path: string): ReturnType<WatchedFiles['read']> {
    this.reads.push(path);
    const f = this.files.get(this.resolve(path));
    if (f === undefined) return err({ kind: 'dns-resolv-conf', message: `cannot read ${path}: ENOENT`, path });
    return ok(f.text);
  }

  signature(path: string): string | undefined {
    const f = this.files.get(this.resolve(path));
    return f === undefined ? undefined : `${f.ino}:${f.version}:${f.text.length}`;
  }

  realPath(path: string): string | undefined {
    const r = this.resolve(path);
    return this.files.has(r) ? r : undefined;
  }

  dirname(path: string): string {
    return posix.dirname(path);
  }

  basename(path: string): string {
    return posix.basename(path);
  }

  watchDirectory(dir: string, onChange: (entry: string | null) => void): ReturnType<WatchedFiles['watchDirectory']> {
    if (this.unwatchable.has(dir)) return err(`cannot watch ${dir}: ENOENT`);
    let set = this.watchers.get(dir);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(dir, set);
    }
    const s = set;
    s.add(onChange);
    return ok(() => void s.delete(onChange));
  }

  private resolve(path: string): string {
    let p = path;
    for (let i = 0; i < 8 && this.links.has(p); i++) p = this.links.get(p)!;
    return p;
  }

  private notify(path: string, _event: string): void {
    if (this.silent) return;
    for (const cb of [...(this.watchers.get(posix.dirname(path)) ?? [])]) cb(posix.basename(path));
  }
}
