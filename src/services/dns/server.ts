/**
 * The gateway's DNS service (UDP and TCP port 53): local names first (built-in, user, guests,
 * reverse), then the upstream forwarder.
 *
 * What is answered how:
 * - Fewer than 12 bytes, or a response (QR set): dropped silently — there is no header to answer
 *   and answering responses invites loops (RFC 1035 §4.1.1).
 * - Opcode other than QUERY: NOTIMP (RFC 1035 §4.1.1).
 * - QDCOUNT ≠ 1, an unreadable question, a record overrunning the message, two OPT records:
 *   FORMERR (RFC 9619 §2 for QDCOUNT; RFC 6891 §6.1.1 for OPT).
 * - EDNS version above 0: BADVERS (RFC 6891 §6.1.3).
 * - Local names: answered here with TTL 0 and AA; a local name without the asked type is NODATA
 *   (see `records.ts` for why not NXDOMAIN).
 * - Host-resolver mode only: A and AAAA questions (class IN, an ordinary host name) are answered
 *   from the host's getaddrinfo with a short TTL, not authoritative (`host-resolver.ts`); a local
 *   CNAME whose target is not local is finished the same way.
 * - Everything else: forwarded as the guest sent it (new id only) and the answer passed back
 *   byte for byte with the guest's id, so every record type (SRV, MX, HTTPS, DNSSEC) works.
 *   No usable answer within the forwarder's bound: SERVFAIL (RFC 1035 §4.1.1 "server failure").
 * - UDP replies longer than the client allows — 512 bytes without EDNS (RFC 1035 §4.2.1), else
 *   its EDNS payload size (RFC 6891 §6.2.5, never below 512, never above `maxUdpResponse`) — are
 *   cut to whole answers with TC set so the client retries over TCP (RFC 7766 §5).
 *
 * Guests send A and AAAA in parallel from one source port, often with the same id (glibc, musl):
 * pending forwards and host lookups are keyed by client address, port, id and question, so both
 * get their own answer, and only an exact retransmission of a query still in flight is dropped as
 * a duplicate.
 *
 * Every reply can be reported to a {@link DnsServer.onQuery} listener; with none set (or
 * {@link DnsServer.wantsQueryEvents} saying no) the server neither reads the clock for it nor
 * builds the event.
 * @module
 */
import type { Duplex } from 'node:stream';
import dnsPacket, { type Answer } from 'dns-packet';
import type { Result } from 'neverthrow';
import type { Runtime } from '../../runtime/runtime.js';
import type { UdpLayer } from '../../stack/udp.js';
import { formatIpv4 } from '../../wire/address.js';
import { isHostLookupName } from './host-lookup.js';
import type { HostAnswer, HostResolver } from './host-resolver.js';
import {
  CLASSIC_UDP_LIMIT, encodeOpt, Flag, HEADER_LEN, headerOnlyReply, layoutMessage, msgCount, msgFlags, msgId, msgOpcode,
  msgRcode, OPCODE_QUERY, Rcode, readQuestion, RrClass, RrType, setMsgId, truncateTo, typeName, type DnsQuestion, type EdnsInfo,
} from './message.js';
import { describeAnswers, rcodeName, type DnsAnswerSource, type DnsQueryEvent } from './query-event.js';
import type { LocalRecords } from './records.js';
import { answerReply, chaseQuery } from './reply.js';
import { formatUpstream } from './resolv-conf.js';
import { serveStream, type StreamLimits } from './tcp-stream.js';
import type { Upstream, UpstreamAnswer, UpstreamError } from './upstream.js';

export type { DnsAnswerSource, DnsEventAnswer, DnsQueryEvent } from './query-event.js';

/** DNS's well-known port (RFC 1035 §4.2). */
export const DNS_SERVICE_PORT = 53;

/** Who asked. `address` is a u32 for guests on the virtual network, text for TCP peers. */
export interface DnsClient {
  readonly transport: 'udp' | 'tcp';
  readonly address: number | string;
  readonly port: number;
}

/** Service counters. */
export interface DnsServerStats {
  queries: number;
  /** Answered from local data. */
  local: number;
  /** Answered by the host resolver (host-resolver mode). */
  host: number;
  /** Sent to the upstream forwarder. */
  forwarded: number;
  servfail: number;
  formerr: number;
  notimp: number;
  truncated: number;
  /** Dropped without reply: runt/response packets, duplicates in flight, forwarder or host resolver full, TCP over limit. */
  dropped: number;
  duplicates: number;
  tcpConnections: number;
  /** Exceptions caught inside the service (should stay 0; non-zero is a bug). */
  internalErrors: number;
}

/** Configuration of the DNS service. */
export interface DnsServerOptions {
  readonly runtime: Runtime;
  readonly records: LocalRecords;
  readonly upstream: Upstream;
  /** Host-resolver mode: answers A and AAAA from the host's getaddrinfo. Absent: upstream mode. */
  readonly hostResolver?: HostResolver;
  /**
   * Largest UDP reply, whatever the client's EDNS size (default 1232: DNS Flag Day 2020, fits
   * any path without fragmentation; the gateway does not fragment). Also our advertised size.
   */
  readonly maxUdpResponse?: number;
  /** TCP: close a connection idle this long (default 10000 ms; RFC 7766 §6.2.3). */
  readonly tcpIdleTimeoutMs?: number;
  /** TCP: queries of one connection in flight before reading pauses (default 32). */
  readonly tcpMaxInFlight?: number;
  /** TCP: connections served at once; more are closed at once (default 64). */
  readonly maxTcpConnections?: number;
  /** Called after every reply; leave unset for no per-query cost. */
  readonly onQuery?: (e: DnsQueryEvent) => void;
  /** Asked per query when `onQuery` is set: `false` skips the event (an emitter with no listeners). */
  readonly wantsQueryEvents?: () => boolean;
}

/** The DNS service of the gateway. */
export class DnsServer {
  /** Listener for per-query events; may be set or cleared at any time. */
  onQuery: ((e: DnsQueryEvent) => void) | undefined;
  /**
   * Consulted once per query when {@link onQuery} is set: returning `false` skips the event and
   * its cost (the facade passes "does `dns-query` have listeners").
   */
  wantsQueryEvents: (() => boolean) | undefined;
  private readonly counters: DnsServerStats = {
    queries: 0, local: 0, host: 0, forwarded: 0, servfail: 0, formerr: 0, notimp: 0, truncated: 0, dropped: 0, duplicates: 0, tcpConnections: 0, internalErrors: 0,
  };
  private readonly inFlight = new Set<string>();
  private readonly maxUdp: number;
  private readonly streamLimits: StreamLimits;
  private readonly maxTcp: number;
  private tcpOpen = 0;
  private closed = false;
  private readonly streams = new Set<Duplex>();

  constructor(private readonly opts: DnsServerOptions) {
    this.onQuery = opts.onQuery;
    this.wantsQueryEvents = opts.wantsQueryEvents;
    this.maxUdp = Math.max(CLASSIC_UDP_LIMIT, Math.min(opts.maxUdpResponse ?? 1232, 65535));
    this.maxTcp = opts.maxTcpConnections ?? 64;
    this.streamLimits = { idleTimeoutMs: opts.tcpIdleTimeoutMs ?? 10_000, maxInFlight: opts.tcpMaxInFlight ?? 32 };
  }

  /**
   * Serves UDP 53 on `gatewayIp`: binds on `udp` and answers from `gatewayIp:53`. The query
   * bytes are copied out of the borrowed frame before anything asynchronous. Returns the unbind.
   */
  attachUdp(udp: UdpLayer, gatewayIp: number): () => void {
    return udp.bind(gatewayIp, DNS_SERVICE_PORT, (info) => {
      // A copy: the frame's buffer is reused as soon as we return (and on a Node Buffer `slice`
      // would only be a view).
      const query = new Uint8Array(info.buf.subarray(info.payload, info.payload + info.payloadLen));
      const srcIp = info.srcIp;
      const srcPort = info.srcPort;
      this.handleQuery(query, { transport: 'udp', address: srcIp, port: srcPort }, (reply) => {
        if (reply !== undefined) udp.send(gatewayIp, DNS_SERVICE_PORT, srcIp, srcPort, reply);
      });
    });
  }

  /**
   * Serves DNS over TCP (RFC 7766) on an accepted connection: two-byte length prefixes, any number
   * of pipelined queries answered as each completes (§6.2.1.1), idle close. Never throws.
   * A `net.Socket` should come from a server created with `allowHalfOpen: true`, or Node closes
   * it when the client half-closes and answers still in flight are lost.
   */
  handleStream(duplex: Duplex): void {
    if (this.closed || this.tcpOpen >= this.maxTcp) {
      this.counters.dropped++;
      duplex.destroy();
      return;
    }
    this.tcpOpen++;
    this.counters.tcpConnections++;
    this.streams.add(duplex);
    const peer = duplex as Duplex & { remoteAddress?: string; remotePort?: number };
    const client: DnsClient = { transport: 'tcp', address: peer.remoteAddress ?? '', port: peer.remotePort ?? 0 };
    serveStream(duplex, this.opts.runtime.scheduler, this.streamLimits, (q, respond) => this.handleQuery(q, client, respond), () => {
      this.tcpOpen--;
      this.streams.delete(duplex);
    });
  }

  /**
   * Answers one query message (owned by the server from now on). `respond` is called exactly once:
   * synchronously for local answers, errors and drops, later for forwarded queries; `undefined`
   * means "no reply" (dropped).
   */
  handleQuery(query: Uint8Array, client: DnsClient, respond: (reply: Uint8Array | undefined) => void): void {
    // The clock is read for the event only: no listener, no cost (NaN marks "not reported").
    const started = this.reporting() ? this.opts.runtime.clock.now() : NaN;
    this.counters.queries++;
    const drop = (): void => {
      this.counters.dropped++;
      respond(undefined);
    };
    if (this.closed || query.length < HEADER_LEN || (msgFlags(query) & Flag.QR) !== 0) return drop();
    const q = msgCount(query, 0) >= 1 ? readQuestion(query) : undefined;
    // Until an EDNS OPT says otherwise the client takes 512 bytes over UDP (RFC 1035 §4.2.1).
    let limit = CLASSIC_UDP_LIMIT;
    const reply = (msg: Uint8Array, via: DnsAnswerSource, rcode: number, server?: string): void => {
      let out = msg;
      let cut = false;
      if (client.transport === 'udp') {
        const t = truncateTo(msg, limit);
        out = t.msg;
        cut = t.truncated;
        if (cut) this.counters.truncated++;
      }
      if (rcode === Rcode.ServFail) this.counters.servfail++;
      respond(out);
      if (!Number.isNaN(started) && this.onQuery !== undefined) this.emit(q, client, out, rcode, via, server, cut, started);
    };
    if (msgOpcode(query) !== OPCODE_QUERY) {
      this.counters.notimp++;
      return reply(headerOnlyReply(query, q, Rcode.NotImp), 'local', Rcode.NotImp);
    }
    const layout = q === undefined ? undefined : layoutMessage(query, q.end);
    if (q === undefined || layout === undefined) {
      this.counters.formerr++;
      return reply(headerOnlyReply(query, q, Rcode.FormErr), 'local', Rcode.FormErr);
    }
    const edns = layout.edns;
    // RFC 6891 §6.2.5: a size below 512 is treated as 512; above our maximum we cap it.
    if (edns !== undefined) limit = Math.min(this.maxUdp, Math.max(CLASSIC_UDP_LIMIT, edns.udpSize));
    if (edns !== undefined && edns.version > 0) {
      const opt = encodeOpt(this.maxUdp, Rcode.BadVers >>> 4);
      return reply(headerOnlyReply(query, q, Rcode.BadVers & 0x0f, opt), 'local', Rcode.BadVers);
    }
    const local = this.opts.records.lookup(q.name, q.type, q.cls);
    if (local !== undefined && local.kind === 'answer') {
      this.counters.local++;
      return reply(answerReply(query, q, this.optFor(edns), local.answers, Rcode.NoError, true), 'local', Rcode.NoError);
    }
    const key = client.transport === 'udp' ? `${client.address}|${client.port}|${msgId(query)}|${q.key}|${q.type}|${q.cls}` : undefined;
    if (key !== undefined) {
      if (this.inFlight.has(key)) {
        // The client resent a query we are still resolving; the pending answer serves both.
        this.counters.duplicates++;
        return drop();
      }
      this.inFlight.add(key);
    }
    const settle = (): boolean => {
      if (key !== undefined) this.inFlight.delete(key);
      return !this.closed;
    };
    const chase = local?.kind === 'chase' ? local : undefined;
    const host = this.opts.hostResolver;
    const target = chase === undefined ? q.name : chase.target;
    if (host !== undefined && (q.type === RrType.A || q.type === RrType.AAAA) && q.cls === RrClass.IN && isHostLookupName(target)) {
      this.counters.host++;
      return host.resolve(target, q.type === RrType.A ? 4 : 6, (a) => {
        if (!settle()) return drop();
        this.guard(() => this.replyFromHost(query, q, edns, target, chase?.answers ?? [], a, host.ttlSeconds, reply, drop));
      });
    }
    this.counters.forwarded++;
    const upstreamQuery = chase === undefined ? query : chaseQuery(chase.target, q.type);
    const onResult = (r: Result<UpstreamAnswer, UpstreamError>): void => {
      if (!settle()) return drop();
      if (r.isOk()) {
        const msg = r.value.message;
        const server = formatUpstream(r.value.server);
        if (chase !== undefined) return this.spliceChase(query, q, edns, chase.answers, msg, server, reply);
        setMsgId(msg, msgId(query));
        return reply(msg, 'upstream', msgRcode(msg), server);
      }
      const e = r.error;
      if (e.kind === 'dns-upstream-busy' || e.kind === 'dns-upstream-closed') return drop();
      if (e.kind === 'dns-upstream-failed' && e.lastAnswer !== undefined && chase === undefined) {
        // Every server refused or failed: pass on what the last one said (REFUSED, SERVFAIL…).
        setMsgId(e.lastAnswer, msgId(query));
        return reply(e.lastAnswer, 'upstream', msgRcode(e.lastAnswer));
      }
      reply(headerOnlyReply(query, q, Rcode.ServFail, this.optFor(edns)), 'upstream', Rcode.ServFail);
    };
    void this.opts.upstream.forward(upstreamQuery, client.transport === 'tcp').then((r) => this.guard(() => onResult(r)));
  }

  /** A snapshot of the counters. */
  stats(): DnsServerStats {
    return { ...this.counters };
  }

  /** Stops answering: pending forwards are dropped, TCP connections destroyed. Does not close the forwarder. */
  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) s.destroy();
  }

  /** An OPT for the reply when the query had one (RFC 6891 §7). */
  private optFor(edns: EdnsInfo | undefined): Uint8Array | undefined {
    return edns === undefined ? undefined : encodeOpt(this.maxUdp, 0, edns.dnssecOk);
  }

  /** Whether this query will be reported (a listener is set and wants events). */
  private reporting(): boolean {
    if (this.onQuery === undefined) return false;
    try {
      return this.wantsQueryEvents?.() ?? true;
    } catch {
      return false;
    }
  }

  /** Runs a completion callback; a bug (or a throwing respond) must not become an unhandled rejection. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch {
      this.counters.internalErrors++;
    }
  }

  /**
   * The reply to an A/AAAA question the host resolver answered: the addresses owned by `owner`
   * (the name asked, or the local CNAME chain's target) with the resolver's short TTL, not
   * authoritative; NODATA, NXDOMAIN (with the chain, RFC 6604 §2) or SERVFAIL otherwise.
   */
  private replyFromHost(
    query: Uint8Array, q: DnsQuestion, edns: EdnsInfo | undefined, owner: string, chain: readonly Answer[], a: HostAnswer, ttl: number,
    reply: (msg: Uint8Array, via: DnsAnswerSource, rcode: number) => void, drop: () => void,
  ): void {
    if (a.kind === 'busy') return drop();
    if (a.kind === 'failure') return reply(headerOnlyReply(query, q, Rcode.ServFail, this.optFor(edns)), 'host', Rcode.ServFail);
    const rcode = a.kind === 'no-name' ? Rcode.NxDomain : Rcode.NoError;
    const type = q.type === RrType.A ? 'A' : 'AAAA';
    const records: Answer[] = a.kind === 'addresses' ? a.addresses.map((data) => ({ name: owner, type, ttl, class: 'IN', data })) : [];
    reply(answerReply(query, q, this.optFor(edns), [...chain, ...records], rcode, false), 'host', rcode);
  }

  /** Local CNAME chain + the upstream's records for its target, with the upstream's rcode (RFC 6604 §2). */
  private spliceChase(
    query: Uint8Array, q: DnsQuestion, edns: EdnsInfo | undefined, chain: Answer[], upstream: Uint8Array, server: string,
    reply: (msg: Uint8Array, via: DnsAnswerSource, rcode: number, server?: string) => void,
  ): void {
    let answers: Answer[];
    try {
      answers = dnsPacket.decode(Buffer.from(upstream.buffer, upstream.byteOffset, upstream.byteLength)).answers ?? [];
    } catch {
      return reply(headerOnlyReply(query, q, Rcode.ServFail, this.optFor(edns)), 'upstream', Rcode.ServFail, server);
    }
    const rcode = msgRcode(upstream);
    reply(answerReply(query, q, this.optFor(edns), chain.concat(answers), rcode, false), 'upstream', rcode, server);
  }

  private emit(
    q: DnsQuestion | undefined, client: DnsClient, out: Uint8Array, rcode: number, via: DnsAnswerSource, server: string | undefined, truncated: boolean, started: number,
  ): void {
    try {
      const address = typeof client.address === 'number' ? formatIpv4(client.address) : client.address;
      const e: DnsQueryEvent = {
        name: q?.name ?? '',
        type: q === undefined ? '' : typeName(q.type),
        rcode,
        rcodeName: rcodeName(rcode),
        answers: out.length >= HEADER_LEN && msgCount(out, 1) > 0 ? describeAnswers(out) : [],
        source: { transport: client.transport, address, port: client.port },
        latencyMs: this.opts.runtime.clock.now() - started,
        via,
        ...(server !== undefined ? { server } : {}),
        truncated,
      };
      this.onQuery?.(e);
    } catch {
      // A listener's exception must not break the service.
    }
  }
}
