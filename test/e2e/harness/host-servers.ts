/**
 * TCP servers a test starts on the host's 127.0.0.1 for its guests to reach through the
 * host-loopback alias, with every accepted socket remembered so that one call ends them all.
 * @module
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** The servers (and their connections) of one test file. */
export class HostServers {
  private readonly servers: Server[] = [];
  private readonly sockets: Socket[] = [];

  /**
   * Listens on 127.0.0.1 at a free port with half-open connections allowed; `onConn` gets each
   * accepted socket (socket errors are ignored unless `onConn` listens for them).
   */
  async listen(onConn: (s: Socket) => void): Promise<{ port: number; server: Server }> {
    const server = createServer({ allowHalfOpen: true }, (s) => {
      this.sockets.push(s);
      s.on('error', () => {});
      onConn(s);
    });
    this.servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { port: (server.address() as AddressInfo).port, server };
  }

  /** Destroys every accepted socket and closes every server. */
  closeAll(): void {
    for (const s of this.sockets.splice(0)) s.destroy();
    for (const s of this.servers.splice(0)) s.close();
  }
}
