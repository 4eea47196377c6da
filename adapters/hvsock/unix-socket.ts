/**
 * Plain Unix-domain sockets with the defaults every hvsock transport here needs:
 * `allowHalfOpen` (a FIN in one direction must not close the other, protocols.md §2) and
 * replacing a *stale* socket file left by a crashed process — but never a live one, and
 * never a file that is not a socket.
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ResultAsync } from 'neverthrow';
import type { OsError } from '../../src/native/os-error.js';
import { claimUnixPath } from '../../src/transports/unix-path.js';
import { fromNodeError } from './errors.js';

/** Called for each accepted connection. */
export type UnixConnectionHandler = (socket: Socket) => void;

/** Connects to a Unix socket; resolves once connected. */
export function connectUnix(path: string): ResultAsync<Socket, OsError> {
  return ResultAsync.fromPromise(
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ path, allowHalfOpen: true });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    }),
    (e) => fromNodeError(e, `connect to ${path}`),
  );
}

function bind(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Listens on `path`. A stale socket file (nobody listening) is replaced; a live one is an error. */
export function listenUnix(path: string, onConnection: UnixConnectionHandler): ResultAsync<Server, OsError> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection);
  const attempt = async (): Promise<Server> => {
    try {
      await bind(server, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      // A stale socket file is replaced; a live socket or another file keeps the original error.
      if ((await claimUnixPath(path)) !== undefined) throw e;
      await bind(server, path);
    }
    // Errors after listening (rare for Unix sockets) must not crash the process.
    server.on('error', () => {});
    return server;
  };
  return ResultAsync.fromPromise(attempt(), (e) => fromNodeError(e, `listen on ${path}`));
}

/**
 * Stops accepting and removes the socket file (libuv unlinks it when the handle closes).
 * Connections already accepted stay open: their owners close them.
 */
export function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  server.close();
  return Promise.resolve();
}
