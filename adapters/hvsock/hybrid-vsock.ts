/**
 * Firecracker / cloud-hypervisor "hybrid vsock" (protocols.md §2.6): the VMM exposes the
 * guest's vsock as Unix sockets.
 *
 * - Host → guest port P: connect to the VMM's `uds_path`, send `CONNECT <P>\n` (decimal,
 *   keyword case-insensitive); the VMM answers `OK <host port>\n` once the guest accepted,
 *   or simply closes on refusal. Everything after the newline is payload.
 * - Guest → host port P: the VMM connects to the Unix socket `<uds_path>_<P>` (no prefix).
 *
 * {@link connectHybrid} and {@link listenHybridGuestPort} are the host side.
 * {@link listenHybrid} plays the VMM's side of `CONNECT` (for tests, and for hosts that act
 * as the VMM and hand the connection to an in-process guest).
 * @module
 */
import type { Server, Socket } from 'node:net';
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import type { OsError } from '../../src/native/os-error.js';
import { checkVsockPort } from './addressing.js';
import { handshakeError, type HandshakeError, type InvalidAddress } from './errors.js';
import { readLine, type ReadTiming } from './handshake-reader.js';
import { connectUnix, listenUnix } from './unix-socket.js';

/** Longest `CONNECT`/`OK` line, newline included (the VMMs' own limit). */
export const HYBRID_LINE_LIMIT = 32;

/** A host-initiated hybrid vsock connection after `OK`. */
export interface HybridConnection {
  /** The payload stream (bytes after the `OK` line are still in it). */
  readonly stream: Socket;
  /** The host-side port the VMM reported in `OK <port>`. */
  readonly hostPort: number;
}

/** The `CONNECT <port>\n` request. */
export function formatConnectLine(port: number): string {
  return `CONNECT ${port}\n`;
}

/** Parses a `CONNECT <port>\n` line (keyword case-insensitive, port decimal u32). */
export function parseConnectLine(line: Buffer | string): Result<number, HandshakeError> {
  const text = typeof line === 'string' ? line : line.toString('latin1');
  const m = /^connect ([0-9]{1,10})\n$/i.exec(text);
  if (m === null) return err(handshakeError('malformed', `not a CONNECT line: ${JSON.stringify(text)}`));
  const port = Number(m[1]);
  return checkVsockPort(port).mapErr(() => handshakeError('malformed', `CONNECT port out of range: ${m[1]}`));
}

/** Parses an `OK <port>\n` reply. */
export function parseOkLine(line: Buffer | string): Result<number, HandshakeError> {
  const text = typeof line === 'string' ? line : line.toString('latin1');
  const m = /^ok ([0-9]{1,10})\n$/i.exec(text);
  if (m === null) return err(handshakeError('malformed', `expected 'OK <port>', got ${JSON.stringify(text)}`));
  const port = Number(m[1]);
  return checkVsockPort(port).mapErr(() => handshakeError('malformed', `OK port out of range: ${m[1]}`));
}

/** The Unix socket a VMM connects to for guest-initiated connections to host port `port`. */
export function hybridGuestPortPath(udsPath: string, port: number): string {
  return `${udsPath}_${port}`;
}

/** Host → guest: connects to guest vsock port `port` through the VMM socket `udsPath`. */
export function connectHybrid(udsPath: string, port: number, timing: ReadTiming = {}): ResultAsync<HybridConnection, HandshakeError | OsError | InvalidAddress> {
  const p = checkVsockPort(port);
  if (p.isErr()) return errAsync(p.error);
  return connectUnix(udsPath).andThen((stream) => {
    stream.write(formatConnectLine(port));
    return readLine(stream, HYBRID_LINE_LIMIT, `hybrid vsock CONNECT ${port} via ${udsPath}`, timing)
      .andThen((line) => {
        const hostPort = parseOkLine(line);
        return hostPort.isOk() ? okAsync({ stream, hostPort: hostPort.value }) : errAsync(hostPort.error);
      })
      .orElse((e) => {
        stream.destroy();
        return errAsync(e);
      });
  });
}

/** Options for {@link listenHybrid}. */
export interface HybridServerOptions extends ReadTiming {
  /** Decides whether the "guest" accepts port P; refusal closes the connection. Default: accept. */
  readonly accept?: (port: number) => boolean | Promise<boolean>;
  /** First synthesised host-side port reported in `OK`; default 2^30. */
  readonly firstHostPort?: number;
}

/**
 * VMM side: listens on `udsPath`, reads each `CONNECT <port>\n`, asks `accept`, then writes
 * `OK <host port>\n` and hands the stream (payload bytes preserved) to `onConnection`.
 * Malformed, over-long or late requests and refusals close the connection without a reply.
 */
export function listenHybrid(
  udsPath: string,
  onConnection: (port: number, stream: Socket, hostPort: number) => void,
  options: HybridServerOptions = {},
): ResultAsync<Server, OsError> {
  let nextHostPort = options.firstHostPort ?? 2 ** 30;
  return listenUnix(udsPath, (socket) => {
    socket.on('error', () => socket.destroy());
    void readLine(socket, HYBRID_LINE_LIMIT, `hybrid vsock request on ${udsPath}`, options)
      .andThen((line) => {
        const port = parseConnectLine(line);
        return port.isOk() ? okAsync(port.value) : errAsync(port.error);
      })
      .andThen((port) =>
        ResultAsync.fromPromise(Promise.resolve(options.accept ? options.accept(port) : true), () =>
          handshakeError('refused', `accept(${port}) threw`),
        ).andThen((yes) => (yes ? ok(port) : err(handshakeError('refused', `port ${port} refused`)))),
      )
      .match(
        (port) => {
          if (socket.destroyed) return;
          const hostPort = nextHostPort;
          nextHostPort = nextHostPort >= 0xfffffff0 ? 2 ** 30 : nextHostPort + 1;
          socket.write(`OK ${hostPort}\n`);
          onConnection(port, socket, hostPort);
        },
        () => socket.destroy(),
      );
  });
}

/** Host side of guest → host connections: listens on `<udsPath>_<port>`; streams carry no prefix. */
export function listenHybridGuestPort(udsPath: string, port: number, onConnection: (stream: Socket) => void): ResultAsync<Server, OsError | InvalidAddress> {
  const p = checkVsockPort(port);
  if (p.isErr()) return errAsync(p.error);
  return listenUnix(hybridGuestPortPath(udsPath, port), (socket) => {
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
}
