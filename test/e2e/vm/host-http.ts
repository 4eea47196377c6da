/**
 * An HTTP server on host 127.0.0.1 for guests to fetch from (through the host-loopback alias).
 *
 * `/` answers a fixed greeting. `/blob` starts a download that is meant to be cut off: a declared
 * length of 1 GiB, paced at one chunk per tick, so a transfer is surely in flight when the test
 * kills the VM (the guest keeps what it downloads in RAM, so an unpaced stream could fill it).
 * Each `/blob` response is tracked: bytes handed to the socket and how the response ended.
 * @module
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { deferCleanup } from './cleanup.js';

/** What the server answers on `/`. */
export const HOST_GREETING = 'hello from the vnetkit test host';

/** One request as the server saw it. */
export interface HostRequest {
  readonly method: string;
  readonly path: string;
  /** The peer as seen by the host kernel (vnetkit's host socket: 127.0.0.1). */
  readonly remoteAddress: string;
}

/** A `/blob` download in progress or ended. */
export interface BlobDownload {
  /** Bytes written to the socket so far. */
  readonly sent: number;
  /** Resolves when the response ends: `finished` (all sent) or `aborted` (peer or socket gone first). */
  readonly ended: Promise<'finished' | 'aborted'>;
}

/** A running host server. */
export interface HostHttp {
  readonly port: number;
  readonly requests: readonly HostRequest[];
  /** Resolves with the first `/blob` download that starts from now on (or the next one). */
  nextBlob(): Promise<BlobDownload>;
  close(): Promise<void>;
}

/** Options of {@link startHostHttp}. */
export interface HostHttpOptions {
  /** Bytes per tick of `/blob`. Default 64 KiB. */
  blobChunkBytes?: number;
  /** Tick of `/blob`, ms. Default 20 (about 3 MiB/s: slow enough to be cut off mid-way). */
  blobIntervalMs?: number;
}

const BLOB_DECLARED_BYTES = 1024 * 1024 * 1024;

class Blob implements BlobDownload {
  sent = 0;
  readonly ended: Promise<'finished' | 'aborted'>;
  private timer: NodeJS.Timeout | undefined;

  constructor(res: ServerResponse, chunk: Buffer, intervalMs: number) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BLOB_DECLARED_BYTES) });
    this.ended = new Promise((resolve) => {
      res.once('close', () => {
        clearInterval(this.timer);
        resolve(res.writableFinished ? 'finished' : 'aborted');
      });
    });
    let blocked = false;
    res.on('drain', () => (blocked = false));
    this.timer = setInterval(() => {
      // Respect backpressure: a slow guest is not a reason to buffer the whole blob in the host.
      if (blocked || res.destroyed) return;
      const n = Math.min(chunk.length, BLOB_DECLARED_BYTES - this.sent);
      this.sent += n;
      blocked = !res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (this.sent >= BLOB_DECLARED_BYTES) {
        clearInterval(this.timer);
        res.end();
      }
    }, intervalMs);
  }
}

/** Starts the server on 127.0.0.1 and a free port; closed by `runCleanups()`. */
export async function startHostHttp(opts: HostHttpOptions = {}): Promise<HostHttp> {
  const chunk = Buffer.alloc(opts.blobChunkBytes ?? 64 * 1024, 0x5a);
  const intervalMs = opts.blobIntervalMs ?? 20;
  const requests: HostRequest[] = [];
  const blobWaiters: Array<(b: BlobDownload) => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', remoteAddress: req.socket.remoteAddress ?? '' });
    if (req.url === '/blob') {
      const b = new Blob(res, chunk, intervalMs);
      for (const w of blobWaiters.splice(0)) w(b);
      return;
    }
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/' ? `${HOST_GREETING}\n` : 'not found\n');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  deferCleanup('host HTTP server', close);
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    nextBlob: () => new Promise((resolve) => blobWaiters.push(resolve)),
    close,
  };
}
