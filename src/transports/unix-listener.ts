/**
 * A Unix stream socket listener that cleans up after itself: a stale socket file left by a crashed
 * process is replaced (only when nothing answers on it), and the file is unlinked on close.
 * @module
 */
import { unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { errAsync, ResultAsync } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../errors.js';
import { claimUnixPath } from './unix-path.js';

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_UNIX_PATH = 107;

/** Errors of `listenUnix` (a socket path that cannot be bound). */
export type ListenError = VnetError<'listen-failed'> & { path: string };

/** A listening Unix socket. */
export interface UnixListener {
  readonly path: string;
  /** Stops accepting, unlinks the socket file. Open connections are left to their owners. */
  close(): Promise<void>;
}

/** Listens on `path`, calling `onConnection` for each accepted socket. */
export function listenUnix(path: string, onConnection: (s: Socket) => void): ResultAsync<UnixListener, ListenError> {
  if (Buffer.byteLength(path) > MAX_UNIX_PATH)
    return errAsync(vnetError('listen-failed', `socket path is longer than ${MAX_UNIX_PATH} bytes: ${path}`, { path }));
  const prepare = async (): Promise<void> => {
    const problem = await claimUnixPath(path);
    if (problem === 'not-a-socket') throw new Error(`${path} exists and is not a socket`);
    if (problem === 'in-use') throw new Error(`another process is listening on ${path}`);
  };
  return ResultAsync.fromPromise(
    prepare().then(
      () =>
        new Promise<Server>((resolve, reject) => {
          const srv = createServer({ allowHalfOpen: false }, onConnection);
          srv.once('error', reject);
          srv.listen(path, () => {
            srv.off('error', reject);
            resolve(srv);
          });
        }),
    ),
    (e) => vnetError('listen-failed', `cannot listen on ${path}: ${describeError(e)}`, { path, cause: e }),
  ).map((srv) => ({
    path,
    close: async () => {
      // Not awaiting close's callback: it waits for every accepted connection to end, and those
      // belong to their NICs.
      srv.close();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  }));
}
