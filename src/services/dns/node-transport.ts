/**
 * The real {@link DnsUpstreamTransport}: `dgram` sockets connected to one upstream each, one
 * `net` connection per TCP exchange, and reading the host's resolv.conf. With `node-files.ts`
 * (watching resolv.conf) and `node-host-lookup.ts` (getaddrinfo), the only files of the DNS
 * service that touch the operating system.
 * @module
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { err, ok, type Result } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../../errors.js';
import { MAX_MESSAGE } from './message.js';
import { formatUpstream, parseResolvConf, type ResolvConf, type UpstreamServer } from './resolv-conf.js';
import type { DnsTransportError, DnsUpstreamTransport, UpstreamTcpExchange, UpstreamUdpSocket } from './transport.js';

/** The default location of the host's resolver configuration. */
export const RESOLV_CONF_PATH = '/etc/resolv.conf';

/** resolv.conf could not be read. */
export type ResolvConfReadError = VnetError<'dns-resolv-conf'> & { readonly path: string };

/** Reads and parses the host's resolver configuration (cli.md: the default upstream list). */
export function readResolvConf(path: string = RESOLV_CONF_PATH): Result<ResolvConf, ResolvConfReadError> {
  try {
    return ok(parseResolvConf(readFileSync(path, 'utf8')));
  } catch (e) {
    return err(vnetError('dns-resolv-conf', `cannot read ${path}: ${describeError(e)}`, { path, cause: e }));
  }
}

function transportError(server: UpstreamServer, what: string, cause?: unknown): DnsTransportError {
  const detail = cause === undefined ? '' : `: ${describeError(cause)}`;
  return vnetError('dns-transport', `${formatUpstream(server)}: ${what}${detail}`, { server: formatUpstream(server), cause });
}

/** Node's sockets behind the forwarder's interface. */
export class NodeDnsTransport implements DnsUpstreamTransport {
  openUdp(server: UpstreamServer, onMessage: (msg: Uint8Array) => void, onError: (e: DnsTransportError) => void): UpstreamUdpSocket {
    const sock: UdpSocket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let closed = false;
    let connected = false;
    const queue: Uint8Array[] = [];
    const fail = (what: string, e?: unknown): void => {
      if (closed) return;
      closed = true;
      try {
        sock.close();
      } catch {
        // already closed
      }
      onError(transportError(server, what, e));
    };
    sock.on('error', (e) => fail('udp socket error', e));
    // A connected socket only delivers datagrams from the server's address and port.
    sock.on('message', (m) => {
      if (!closed) onMessage(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    });
    sock.connect(server.port, server.address, () => {
      connected = true;
      for (const q of queue.splice(0)) send(q);
    });
    const send = (msg: Uint8Array): void => {
      if (closed) return;
      if (!connected) {
        queue.push(new Uint8Array(msg));
        return;
      }
      sock.send(msg, (e) => {
        if (e) fail('udp send failed', e);
      });
    };
    return {
      send,
      close: () => {
        if (closed) return;
        closed = true;
        try {
          sock.close();
        } catch {
          // already closed
        }
      },
    };
  }

  queryTcp(server: UpstreamServer, query: Uint8Array, done: (r: Result<Uint8Array, DnsTransportError>) => void): UpstreamTcpExchange {
    let finished = false;
    const chunks: Buffer[] = [];
    let have = 0;
    const sock = connect({ host: server.address, port: server.port });
    const finish = (r: Result<Uint8Array, DnsTransportError>): void => {
      if (finished) return;
      finished = true;
      sock.destroy();
      done(r);
    };
    sock.setNoDelay(true);
    sock.on('connect', () => {
      const framed = Buffer.allocUnsafe(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      framed.set(query, 2);
      sock.write(framed);
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      if (have < 2) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
      chunks.length = 0;
      chunks.push(all);
      const len = all.readUInt16BE(0);
      if (have >= 2 + len) finish(ok(new Uint8Array(all.subarray(2, 2 + len))));
      else if (have > 2 + MAX_MESSAGE) finish(err(transportError(server, 'tcp response too long')));
    });
    sock.on('error', (e) => finish(err(transportError(server, 'tcp error', e))));
    sock.on('close', () => finish(err(transportError(server, 'tcp connection closed before a full response'))));
    return {
      cancel: () => {
        finished = true;
        sock.destroy();
      },
    };
  }
}
