/**
 * Test plumbing for the vmnet tests: an in-memory duplex pair that preserves chunk boundaries
 * exactly (for chunking tests), Unix-socket servers in a temp dir (for real-socket tests), and
 * small awaitable helpers. Only loopback/Unix sockets created here are used.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';

/** One end of {@link duplexPair}: each write arrives at the peer as exactly one chunk. */
export class PairEnd extends Duplex {
  peer!: PairEnd;
  private eofPushed = false;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.peer.deliver(Buffer.from(chunk));
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.peer.deliverEof();
    cb();
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.peer.deliverEof();
    cb(e);
  }

  /** Pushes bytes as if they arrived from the peer. */
  deliver(b: Buffer): void {
    if (!this.eofPushed && !this.destroyed) this.push(b);
  }

  /** Signals the peer's end of stream. */
  deliverEof(): void {
    if (this.eofPushed || this.destroyed) return;
    this.eofPushed = true;
    this.push(null);
  }
}

/** Two connected in-memory ends (`a` ⇄ `b`). */
export function duplexPair(): { a: PairEnd; b: PairEnd } {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  return { a, b };
}

/** Lets pending I/O callbacks, nextTicks and microtasks run (no timing involved). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Collects everything `s` emits until it ends or closes. */
export function readAll(s: Duplex): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(parts));
    };
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', finish);
    s.on('close', finish);
    s.on('error', () => {});
    // A stream handed over by a handshake is explicitly paused; a 'data' listener alone won't start it.
    s.resume();
  });
}

/** Reads until `n` bytes have arrived (or the stream ends), then stops listening and pauses. */
export function readBytes(s: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const done = (): void => {
      s.off('data', onData);
      s.off('end', done);
      s.pause();
      resolve(Buffer.concat(parts));
    };
    const onData = (c: Buffer): void => {
      parts.push(c);
      got += c.length;
      if (got >= n) done();
    };
    s.on('data', onData);
    s.on('end', done);
    s.resume();
  });
}

/** A Unix-socket server in a fresh temp dir; `accepted` yields server-side sockets in order. */
export interface UnixServer {
  readonly path: string;
  readonly server: Server;
  next(): Promise<Socket>;
  connect(): Promise<Socket>;
  close(): Promise<void>;
}

/** Starts a Unix-socket server; each accepted socket is queued for {@link UnixServer.next}. */
export async function unixServer(): Promise<UnixServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-vmnet-'));
  const path = join(dir, 'vmnet.sock');
  const queue: Socket[] = [];
  const waiters: ((s: Socket) => void)[] = [];
  const server = createServer((s) => {
    const w = waiters.shift();
    if (w !== undefined) w(s);
    else queue.push(s);
  });
  await new Promise<void>((r) => server.listen(path, r));
  const sockets: Socket[] = [];
  return {
    path,
    server,
    next: () => {
      const s = queue.shift();
      return s !== undefined ? Promise.resolve(s) : new Promise((r) => waiters.push(r));
    },
    connect: () =>
      new Promise((resolve, reject) => {
        const c = createConnection(path, () => resolve(c));
        sockets.push(c);
        c.once('error', reject);
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when `s` has closed. */
export function closed(s: Duplex): Promise<void> {
  return new Promise((r) => (s.destroyed && s.closed ? r() : s.once('close', () => r())));
}
