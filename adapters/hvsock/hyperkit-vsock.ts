/**
 * hyperkit's virtio-sock host-side Unix socket conventions (protocols.md §2.4), all under
 * the directory given as `path=` to hyperkit's virtio-sock device:
 *
 * - Guest → host port P: hyperkit connects to `<dir>/00000002.<P %08x>`; so a host service
 *   "listens on vsock port P" by listening there ({@link listenHyperkitVsock}).
 * - Host → guest (CID C, port P): connect to `<dir>/connect` and write exactly the 18 bytes
 *   `CCCCCCCC.PPPPPPPP\n`; no reply comes, the stream then carries payload
 *   ({@link connectHyperkitGuest}). hyperkit closes the socket on a short read, a missing
 *   newline, bad hex or a CID that is not the guest's; {@link serveHyperkitConnect} plays
 *   that side for tests.
 * @module
 */
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { err, errAsync, ok, okAsync, type Result, type ResultAsync } from 'neverthrow';
import type { OsError } from '../../src/native/os-error.js';
import { checkVsockPort, VSOCK_CID } from './addressing.js';
import { handshakeError, type HandshakeError, type InvalidAddress } from './errors.js';
import { readExact, type ReadTiming } from './handshake-reader.js';
import { connectUnix, listenUnix } from './unix-socket.js';

/** Length of the host → guest header `CCCCCCCC.PPPPPPPP\n`. */
export const HYPERKIT_HEADER_SIZE = 18;

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** `<dir>/00000002.<port %08x>`: where hyperkit delivers guest connections to host port `port`. */
export function hyperkitHostPortPath(dir: string, port: number): string {
  return join(dir, `${hex8(VSOCK_CID.host)}.${hex8(port)}`);
}

/** `<dir>/connect`: where the host asks hyperkit for a connection to the guest. */
export function hyperkitConnectPath(dir: string): string {
  return join(dir, 'connect');
}

/** `<dir>/<cid %08x>.<port %08x>`: hyperkit's `guest_forwards=` listening socket (no header). */
export function hyperkitGuestForwardPath(dir: string, guestCid: number, port: number): string {
  return join(dir, `${hex8(guestCid)}.${hex8(port)}`);
}

/** The 18-byte header `CCCCCCCC.PPPPPPPP\n` (lowercase hex). */
export function formatHyperkitHeader(cid: number, port: number): Buffer {
  return Buffer.from(`${hex8(cid)}.${hex8(port)}\n`, 'latin1');
}

/** Parses the 18-byte header; anything but exactly `8 hex . 8 hex \n` is `malformed`. */
export function parseHyperkitHeader(bytes: Uint8Array): Result<{ cid: number; port: number }, HandshakeError> {
  if (bytes.length !== HYPERKIT_HEADER_SIZE) {
    return err(handshakeError('malformed', `hyperkit header must be ${HYPERKIT_HEADER_SIZE} bytes, got ${bytes.length}`));
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const m = /^([0-9a-fA-F]{8})\.([0-9a-fA-F]{8})\n$/.exec(text);
  if (m === null) return err(handshakeError('malformed', `bad hyperkit header ${JSON.stringify(text)}`));
  return ok({ cid: parseInt(m[1]!, 16), port: parseInt(m[2]!, 16) });
}

/** Listens for guest connections to host vsock port `port` (binds `<dir>/00000002.<port>`). */
export function listenHyperkitVsock(dir: string, port: number, onConnection: (stream: Socket) => void): ResultAsync<Server, OsError | InvalidAddress> {
  const p = checkVsockPort(port);
  if (p.isErr()) return errAsync(p.error);
  return listenUnix(hyperkitHostPortPath(dir, port), (socket) => {
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
}

/**
 * Connects to guest `cid`:`port` through hyperkit's `<dir>/connect`. Resolves once the
 * header is written: hyperkit sends no acknowledgement, so a refused guest port shows up
 * later as the stream closing.
 */
export function connectHyperkitGuest(dir: string, cid: number, port: number): ResultAsync<Socket, OsError | InvalidAddress> {
  const c = checkVsockPort(cid, `CID ${cid}`);
  if (c.isErr()) return errAsync(c.error);
  const p = checkVsockPort(port);
  if (p.isErr()) return errAsync(p.error);
  return connectUnix(hyperkitConnectPath(dir)).andThen((stream) => {
    stream.write(formatHyperkitHeader(cid, port));
    return okAsync(stream);
  });
}

/**
 * hyperkit's side of `<dir>/connect`, for tests and in-process guests: reads the 18-byte
 * header (bytes after it stay in the stream) and hands `(port, stream)` to `onConnection`;
 * a short read, malformed header or CID other than `guestCid` closes the connection.
 */
export function serveHyperkitConnect(
  dir: string,
  guestCid: number,
  onConnection: (port: number, stream: Socket) => void,
  timing: ReadTiming = {},
): ResultAsync<Server, OsError> {
  return listenUnix(hyperkitConnectPath(dir), (socket) => {
    socket.on('error', () => socket.destroy());
    void readExact(socket, HYPERKIT_HEADER_SIZE, `hyperkit connect header on ${dir}`, timing)
      .andThen((bytes) => {
        const h = parseHyperkitHeader(bytes);
        if (h.isErr()) return errAsync(h.error);
        if (h.value.cid !== guestCid) return errAsync(handshakeError('wrong-cid', `CID ${h.value.cid} is not the guest's (${guestCid})`));
        return okAsync(h.value.port);
      })
      .match(
        (port) => onConnection(port, socket),
        () => socket.destroy(),
      );
  });
}
