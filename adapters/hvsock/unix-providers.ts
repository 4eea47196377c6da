/**
 * {@link VsockProvider}s built on Unix sockets: Firecracker/cloud-hypervisor hybrid vsock
 * (protocols.md §2.6), hyperkit's virtio-sock directory (§2.4) and plain Unix sockets.
 * These need no native code and run on every platform Node supports Unix sockets on.
 * @module
 */
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errAsync, type ResultAsync } from 'neverthrow';
import { invalidAddress, type HvsockError } from './errors.js';
import type { ReadTiming } from './handshake-reader.js';
import { connectHybrid, listenHybridGuestPort } from './hybrid-vsock.js';
import { connectHyperkitGuest, listenHyperkitVsock } from './hyperkit-vsock.js';
import { VsockListener, type VsockPeer } from './listener.js';
import type { VsockProvider } from './provider.js';
import { closeServer, connectUnix, listenUnix } from './unix-socket.js';
import { formatVsockUri, type VsockAddress } from './uri.js';

function wrongTransport(a: VsockAddress, want: string): HvsockError {
  return invalidAddress(formatVsockUri(a), `the ${want} provider cannot serve a '${a.transport}' address`);
}

/** Wraps a Unix server started by `start` into a {@link VsockListener}. */
function serverListener(
  address: VsockAddress,
  start: (onConnection: (s: Socket) => void) => ResultAsync<Server, HvsockError>,
  peer: VsockPeer,
): ResultAsync<VsockListener, HvsockError> {
  let server: Server | undefined;
  const listener = new VsockListener(address, () => (server === undefined ? Promise.resolve() : closeServer(server)));
  return start((s) => listener.deliver(s, peer)).map((srv) => {
    server = srv;
    return listener;
  });
}

/** Hybrid vsock: listen = guest → host port (`<uds>_<port>`), connect = `CONNECT <port>`. */
export class HybridVsockProvider implements VsockProvider {
  readonly name = 'hybrid-vsock';
  constructor(private readonly timing: ReadTiming = {}) {}

  listen(a: VsockAddress): ResultAsync<VsockListener, HvsockError> {
    if (a.transport !== 'hybrid') return errAsync(wrongTransport(a, 'hybrid vsock'));
    return serverListener(a, (on) => listenHybridGuestPort(a.udsPath, a.port, on), { transport: 'hybrid', port: a.port });
  }

  connect(a: VsockAddress): ResultAsync<Duplex, HvsockError> {
    if (a.transport !== 'hybrid') return errAsync(wrongTransport(a, 'hybrid vsock'));
    return connectHybrid(a.udsPath, a.port, this.timing).map((c) => c.stream);
  }
}

/** hyperkit: listen = `<dir>/00000002.<port>`, connect = `<dir>/connect` + 18-byte header. */
export class HyperkitVsockProvider implements VsockProvider {
  readonly name = 'hyperkit';

  listen(a: VsockAddress): ResultAsync<VsockListener, HvsockError> {
    if (a.transport !== 'hyperkit') return errAsync(wrongTransport(a, 'hyperkit'));
    return serverListener(a, (on) => listenHyperkitVsock(a.dir, a.port, on), { transport: 'hyperkit', cid: a.cid });
  }

  connect(a: VsockAddress): ResultAsync<Duplex, HvsockError> {
    if (a.transport !== 'hyperkit') return errAsync(wrongTransport(a, 'hyperkit'));
    return connectHyperkitGuest(a.dir, a.cid, a.port);
  }
}

/** Plain Unix sockets (`unix:<path>`), e.g. a VMM that already demultiplexed the port. */
export class UnixSocketProvider implements VsockProvider {
  readonly name = 'unix';

  listen(a: VsockAddress): ResultAsync<VsockListener, HvsockError> {
    if (a.transport !== 'unix') return errAsync(wrongTransport(a, 'Unix socket'));
    return serverListener(a, (on) => listenUnix(a.path, on), { transport: 'unix' });
  }

  connect(a: VsockAddress): ResultAsync<Duplex, HvsockError> {
    if (a.transport !== 'unix') return errAsync(wrongTransport(a, 'Unix socket'));
    return connectUnix(a.path);
  }
}
