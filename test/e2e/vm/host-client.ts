/**
 * Host-side clients for VM tests: fetch a page from a guest through an exposed port, start a
 * download and leave it in flight (for the kill tests), and check that a UDP port on 127.0.0.1
 * is free.
 * @module
 */
import { createSocket } from 'node:dgram';
import { get, type IncomingMessage } from 'node:http';

/** GETs `http://127.0.0.1:<port><path>` and resolves with the status and body (guarded by `timeoutMs`). */
export function httpGetText(port: number, path = '/', timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A download the test holds open: the first bytes arrive, then reading stops. */
export interface HeldDownload {
  /** Declared length (`content-length`). */
  readonly declared: number;
  /** Bytes read before pausing. */
  readonly received: number;
  /** Resolves when the response ends: `complete` (every declared byte arrived) or `cut` (error, abort, early close). */
  readonly ended: Promise<'complete' | 'cut'>;
}

/**
 * GETs `path` and pauses the response after the first chunk, so the transfer stays in flight with
 * the rest queued in the guest and in vnetkit (backpressure), until something cuts it.
 */
export function holdDownload(port: number, path: string, timeoutMs = 30_000): Promise<HeldDownload> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length'] ?? -1);
      let received = 0;
      const ended = new Promise<'complete' | 'cut'>((done) => {
        res.on('error', () => done('cut'));
        res.on('aborted', () => done('cut'));
        res.on('close', () => done(res.complete && received === declared ? 'complete' : 'cut'));
      });
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received !== chunk.length) return; // not the first chunk
        // Stop reading: the rest stays queued in the guest and in vnetkit (backpressure).
        res.pause();
        clearTimeout(timer);
        resolve({ declared, get received() { return received; }, ended });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET 127.0.0.1:${port}${path}: no data within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * True if nothing is bound to UDP `127.0.0.1:port` (checked by binding it for a moment). Used
 * before pointing a guest at the host's port 53: if a resolver listened there, the guest's query
 * would reach it, and tests must never use the host's resolvers.
 */
export function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
