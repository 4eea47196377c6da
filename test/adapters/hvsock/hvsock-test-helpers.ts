/**
 * Helpers for the hvsock adapter tests: temporary socket directories, raw Unix peers, and
 * collecting a stream's bytes.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const tracked = new Set<{ destroy(): unknown }>();

/** Remembers a stream so {@link destroyTracked} can close it (uvu's CLI waits for open handles). */
export function track<T extends { destroy(): unknown }>(s: T): T {
  tracked.add(s);
  return s;
}

/** Destroys every stream made by these helpers or passed to {@link track}. */
export function destroyTracked(): void {
  for (const s of tracked) s.destroy();
  tracked.clear();
}

/** A fresh short temporary directory (Unix socket paths are limited to ~107 bytes). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vnkt-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Everything a readable side yields until it ends or closes. */
export function collect(r: Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    r.on('data', (c: Buffer) => parts.push(c));
    const done = (): void => resolve(Buffer.concat(parts));
    r.once('end', done);
    r.once('close', done);
    r.once('error', () => {});
  });
}

/** A raw Unix server whose handler sees each connection as-is. */
export function rawServer(path: string, onConnection: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer({ allowHalfOpen: true }, (s) => {
      track(s);
      s.on('error', () => {});
      onConnection(s);
    });
    srv.once('error', reject);
    srv.listen(path, () => resolve(srv));
  });
}

/** A raw Unix client. */
export function rawConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = track(connect({ path, allowHalfOpen: true }));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the socket is closed by either side; reports what it received first. */
export function closedWith(s: Socket): Promise<Buffer> {
  return collect(s);
}
