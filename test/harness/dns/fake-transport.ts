/**
 * A scripted upstream for forwarder unit tests: every datagram or TCP query the forwarder sends is
 * recorded with the clock time, and the test answers, fails or ignores it explicitly. Nothing
 * happens by itself, so with a ManualScheduler every step is deterministic.
 */
import { err, ok, type Result } from 'neverthrow';
import type { Clock } from '../../../src/runtime/clock.js';
import { formatUpstream, type UpstreamServer } from '../../../src/services/dns/resolv-conf.js';
import type { DnsTransportError, DnsUpstreamTransport, UpstreamTcpExchange, UpstreamUdpSocket } from '../../../src/services/dns/transport.js';

/** One message the forwarder sent upstream. */
export interface SentQuery {
  /** `IP:PORT` of the server. */
  readonly server: string;
  readonly tcp: boolean;
  /** The bytes sent (copied). */
  readonly msg: Uint8Array;
  /** Clock time of the send. */
  readonly at: number;
  /** Delivers a response on the socket this query went out on (ignored once closed). */
  reply(response: Uint8Array): void;
  /** Makes the socket fail (ICMP unreachable / connection refused). */
  fail(): void;
  /** Whether the forwarder has closed this socket or cancelled this exchange. */
  closed(): boolean;
}

function transportError(server: UpstreamServer): DnsTransportError {
  return { kind: 'dns-transport', message: `${formatUpstream(server)}: refused`, server: formatUpstream(server) };
}

/** The scripted transport. */
export class FakeDnsTransport implements DnsUpstreamTransport {
  readonly sent: SentQuery[] = [];
  udpSockets = 0;

  constructor(private readonly clock: Clock) {}

  openUdp(server: UpstreamServer, onMessage: (msg: Uint8Array) => void, onError: (e: DnsTransportError) => void): UpstreamUdpSocket {
    let closed = false;
    this.udpSockets++;
    return {
      send: (msg) => {
        if (closed) return;
        this.sent.push({
          server: formatUpstream(server),
          tcp: false,
          msg: msg.slice(),
          at: this.clock.now(),
          reply: (r) => {
            if (!closed) onMessage(r.slice());
          },
          fail: () => {
            if (closed) return;
            closed = true;
            onError(transportError(server));
          },
          closed: () => closed,
        });
      },
      close: () => {
        closed = true;
      },
    };
  }

  queryTcp(server: UpstreamServer, query: Uint8Array, done: (r: Result<Uint8Array, DnsTransportError>) => void): UpstreamTcpExchange {
    let closed = false;
    this.sent.push({
      server: formatUpstream(server),
      tcp: true,
      msg: query.slice(),
      at: this.clock.now(),
      reply: (r) => {
        if (closed) return;
        closed = true;
        done(ok(r.slice()));
      },
      fail: () => {
        if (closed) return;
        closed = true;
        done(err(transportError(server)));
      },
      closed: () => closed,
    });
    return {
      cancel: () => {
        closed = true;
      },
    };
  }

  /** The last query sent, or a test failure. */
  last(): SentQuery {
    const s = this.sent[this.sent.length - 1];
    if (s === undefined) throw new Error('nothing was sent upstream');
    return s;
  }
}
