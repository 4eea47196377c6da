/**
 * vsock port forwarding in the manner of linuxkit's vsudd:
 * - {@link exposeVsockAsUnix}: a host Unix socket whose every connection opens a connection
 *   to a (guest) vsock address through a {@link VsockProvider};
 * - {@link forwardVsockToUnix}: a vsock listener whose every connection is joined to a host
 *   Unix socket.
 * Each joined pair uses {@link pipeBoth}: both directions, half-close, backpressure.
 * @module
 */
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResultAsync } from 'neverthrow';
import type { HvsockError } from './errors.js';
import { pipeBoth } from './pipe-streams.js';
import type { VsockProvider } from './provider.js';
import { closeServer, connectUnix, listenUnix } from './unix-socket.js';
import type { VsockAddress } from './uri.js';

/** A running forward. */
export interface ForwardHandle {
  /** Connections currently joined. */
  readonly active: number;
  /** Connections whose far side could not be reached (they were closed at once). */
  readonly failed: number;
  /** Stops accepting and tears down every joined connection. */
  close(): Promise<void>;
}

/** Called when a connection's far side cannot be reached (for logs). */
export type ForwardErrorHandler = (error: HvsockError) => void;

class Tracker {
  active = 0;
  failed = 0;
  private readonly open = new Set<Duplex>();
  constructor(private readonly onError: ForwardErrorHandler | undefined) {}

  /** Joins `near` to whatever `far` resolves to; closes `near` if that fails. */
  join(near: Duplex, far: ResultAsync<Duplex, HvsockError>): void {
    this.open.add(near);
    near.on('error', () => {}); // reported through pipeBoth or the failure path below
    void far.match(
      (stream) => {
        if (near.destroyed) {
          stream.destroy();
          this.open.delete(near);
          return;
        }
        this.open.add(stream);
        this.active++;
        void pipeBoth(near, stream).then(() => {
          this.active--;
          this.open.delete(near);
          this.open.delete(stream);
        });
      },
      (e) => {
        this.failed++;
        this.open.delete(near);
        near.destroy();
        this.onError?.(e);
      },
    );
  }

  destroyAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}

/** Options for {@link exposeVsockAsUnix}. */
export interface ExposeOptions {
  /** Opens the vsock side of each connection. */
  readonly provider: VsockProvider;
  /** The (guest) vsock endpoint each Unix connection is joined to. */
  readonly target: VsockAddress;
  /** Where to listen on the host. */
  readonly unixPath: string;
  /** Told about each connection whose vsock side could not be opened. */
  readonly onError?: ForwardErrorHandler;
}

/** Exposes a vsock endpoint as a host Unix socket. */
export function exposeVsockAsUnix(options: ExposeOptions): ResultAsync<ForwardHandle, HvsockError> {
  const tracker = new Tracker(options.onError);
  return listenUnix(options.unixPath, (socket: Socket) => tracker.join(socket, options.provider.connect(options.target))).map(
    (server: Server) => handle(tracker, () => closeServer(server)),
  );
}

/** Options for {@link forwardVsockToUnix}. */
export interface ForwardToUnixOptions {
  /** Listens on the vsock side. */
  readonly provider: VsockProvider;
  /** The vsock address to listen on. */
  readonly listen: VsockAddress;
  /** The host Unix socket each vsock connection is joined to. */
  readonly unixPath: string;
  /** Told about each connection whose Unix side could not be opened. */
  readonly onError?: ForwardErrorHandler;
}

/** Forwards connections accepted on a vsock address to a host Unix socket. */
export function forwardVsockToUnix(options: ForwardToUnixOptions): ResultAsync<ForwardHandle, HvsockError> {
  const tracker = new Tracker(options.onError);
  return options.provider.listen(options.listen).map((listener) => {
    listener.on('connection', (stream) => tracker.join(stream, connectUnix(options.unixPath)));
    return handle(tracker, () => listener.close());
  });
}

function handle(tracker: Tracker, stop: () => Promise<void>): ForwardHandle {
  let closed = false;
  return {
    get active() {
      return tracker.active;
    },
    get failed() {
      return tracker.failed;
    },
    async close() {
      if (closed) return;
      closed = true;
      await stop();
      tracker.destroyAll();
    },
  };
}
