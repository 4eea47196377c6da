/**
 * The host sockets of exposed ports: TCP and Unix stream listeners, UDP sockets. Each bind
 * failure becomes an {@link ExposeError} naming the host end (expose-spec.ts `bindError`).
 *
 * `localhost` binds 127.0.0.1 and ::1 on the same port, because clients resolve `localhost` to
 * either (user-needs.md row 23: gvproxy listening on 127.0.0.1 only breaks `curl localhost`);
 * a host without IPv6 keeps the IPv4 socket. With port 0 the IPv6 socket takes the port the
 * IPv4 one got, retrying a few times if that port is taken on ::1.
 *
 * Accepted stream sockets come paused (`pauseOnConnect`): nothing is read from a client before
 * its connection into the guest is established. TCP sockets get TCP_NODELAY and keepalive with a
 * 1 s delay, as vpnkit's forwarded ports do (protocols.md §4.8).
 * @module
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { unlinkSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { errAsync, ResultAsync } from 'neverthrow';
import { vnetError } from '../errors.js';
import { claimUnixPath } from '../transports/unix-path.js';
import { bindError, describeHostEnd, type ExposeError, type ResolvedExpose } from './expose-spec.js';

/** Keepalive delay of accepted host sockets (protocols.md §4.8: vpnkit uses 1 s). */
export const HOST_KEEPALIVE_DELAY_MS = 1000;
/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
const MAX_UNIX_PATH = 107;
/** Attempts to find a port free on both 127.0.0.1 and ::1 when port 0 is asked for `localhost`. */
const DUAL_STACK_TRIES = 8;

/** Bound host sockets of one exposed port. */
export interface HostBinding<S> {
  /** One per address (two for `localhost`). */
  readonly sockets: S[];
  /** The bound port (0 for Unix sockets). */
  readonly port: number;
}

/** The addresses a host IP stands for. */
function addressesOf(hostIp: string): string[] {
  return hostIp === 'localhost' ? ['127.0.0.1', '::1'] : [hostIp];
}

/** Whether a bind error on the second (::1) socket of `localhost` only means "no IPv6 here". */
const noIpv6 = (e: unknown): boolean => ['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes((e as NodeJS.ErrnoException).code ?? '');

/**
 * Binds every address of `p.hostIp` with `bindOne` (which resolves with the socket and its port,
 * or rejects with the OS error) and closes what was bound when a later address fails.
 */
async function bindAddresses<S>(
  p: ResolvedExpose,
  bindOne: (address: string, port: number) => Promise<[S, number]>,
  closeOne: (s: S) => void,
): Promise<HostBinding<S>> {
  const addrs = addressesOf(p.hostIp);
  for (let attempt = 0; ; attempt++) {
    const [first, port] = await bindOne(addrs[0]!, p.hostPort).catch((e: unknown) => {
      throw bindError(e, p);
    });
    const sockets = [first];
    let retry = false;
    for (const a of addrs.slice(1)) {
      try {
        sockets.push((await bindOne(a, port))[0]);
      } catch (e) {
        if (noIpv6(e)) continue;
        for (const s of sockets) closeOne(s);
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && p.hostPort === 0 && attempt < DUAL_STACK_TRIES) retry = true;
        else throw bindError(e, p, port);
        break;
      }
    }
    if (!retry) return { sockets, port };
  }
}

/** Listens for TCP clients on `p.hostIp:p.hostPort`; sockets arrive paused, with NODELAY and keepalive. */
export function listenTcp(p: ResolvedExpose, onConnection: (s: Socket) => void): ResultAsync<HostBinding<Server>, ExposeError> {
  const bindOne = (address: string, port: number): Promise<[Server, number]> =>
    new Promise((resolve, reject) => {
      const srv = createServer(
        { allowHalfOpen: true, pauseOnConnect: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: HOST_KEEPALIVE_DELAY_MS },
        onConnection,
      );
      srv.once('error', reject);
      // exclusive: a cluster primary must not share the handle; ipv6Only: ::1 and 127.0.0.1 are two sockets.
      srv.listen({ host: address, port, exclusive: true, ipv6Only: address.includes(':') }, () => {
        srv.off('error', reject);
        srv.on('error', () => {}); // after listen, errors belong to accepted sockets
        resolve([srv, (srv.address() as AddressInfo).port]);
      });
    });
  return ResultAsync.fromPromise(bindAddresses(p, bindOne, (s) => s.close()), (e) => e as ExposeError);
}

/** Binds UDP sockets on `p.hostIp:p.hostPort`; `onMessage` gets the datagram and the socket it came in on. */
export function bindUdp(p: ResolvedExpose, onMessage: (msg: Buffer, from: { address: string; port: number }, s: UdpSocket) => void): ResultAsync<HostBinding<UdpSocket>, ExposeError> {
  const bindOne = (address: string, port: number): Promise<[UdpSocket, number]> =>
    new Promise((resolve, reject) => {
      const s = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', ipv6Only: address.includes(':') });
      s.once('error', reject);
      s.bind({ address, port, exclusive: true }, () => {
        s.off('error', reject);
        // A send to a client that went away (ICMP port unreachable) surfaces here; the flow just idles out.
        s.on('error', () => {});
        s.on('message', (m, r) => onMessage(m, r, s));
        resolve([s, s.address().port]);
      });
    });
  return ResultAsync.fromPromise(
    bindAddresses(p, bindOne, (s) => s.close()),
    (e) => e as ExposeError,
  );
}

/**
 * Listens on a Unix stream socket. A stale socket file (nothing answers) is replaced; a live one
 * is `port-in-use`; any other file at the path is `bad-address` (never deleted).
 */
export function listenUnixStream(p: ResolvedExpose, onConnection: (s: Socket) => void): ResultAsync<HostBinding<Server>, ExposeError> {
  const path = p.hostPath;
  if (Buffer.byteLength(path) > MAX_UNIX_PATH) return errAsync(vnetError('bad-address', `${describeHostEnd(p)}: the path is longer than ${MAX_UNIX_PATH} bytes`));
  const prepare = async (): Promise<void> => {
    const problem = await claimUnixPath(path);
    if (problem === 'not-a-socket') throw vnetError('bad-address', `${describeHostEnd(p)}: the path exists and is not a socket`);
    if (problem === 'in-use') throw vnetError('port-in-use', `${describeHostEnd(p)} is already in use by another process`, { hostPath: path });
  };
  const listen = (): Promise<HostBinding<Server>> =>
    new Promise((resolve, reject) => {
      const srv = createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
      srv.once('error', (e) => reject(bindError(e, p)));
      srv.listen(path, () => {
        srv.removeAllListeners('error');
        srv.on('error', () => {});
        resolve({ sockets: [srv], port: 0 });
      });
    });
  return ResultAsync.fromPromise(
    prepare().then(listen),
    (e) => ((e as ExposeError).kind !== undefined ? (e as ExposeError) : bindError(e, p)),
  );
}

/** Stops listening; for a Unix socket also unlinks its file. Accepted connections are the caller's. */
export function closeServers(b: HostBinding<Server>, unixPath?: string): void {
  // Not waiting for close's callback: it waits for accepted connections, which the caller ends.
  for (const s of b.sockets) s.close();
  if (unixPath !== undefined) {
    try {
      unlinkSync(unixPath);
    } catch {
      // already gone
    }
  }
}
