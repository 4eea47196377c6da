/**
 * One exposed TCP port (or Unix socket) on the host: each accepted client opens a TCP connection
 * from the gateway into the guest, and once the guest completed the handshake the two are pumped
 * by the outbound forwarder's {@link TcpFlow} (backpressure and half-close both ways).
 *
 * The client socket stays paused until the guest answers, so nothing is read that could not be
 * delivered. The guest's answer decides the client's fate:
 * - SYN-ACK → the flow starts and the client is resumed;
 * - RST (nothing listens in the guest) → the client is reset at once;
 * - silence (no such guest: ARP goes unanswered, or a firewall drops the SYN) → after a bounded
 *   wait ({@link ExposeTcpOptions.connectTimeoutMs}) the client is reset and the reason logged.
 *
 * The connection into the guest comes from the source {@link ExposeTcpOptions.source} picks for
 * the client (expose-source.ts: by default the client's own address and port, a loopback client
 * as the host-loopback alias). When that tuple is taken (another connection of ours holds it, or
 * it closed less than a minute ago and may sit in the guest's TIME-WAIT) the address is kept and
 * the port becomes ephemeral, with a debug line.
 *
 * `close()` stops listening and resets every live connection on both sides (unlike gvproxy,
 * whose unexpose leaves accepted connections running).
 * @module
 */
import type { Server, Socket } from 'node:net';
import { ResultAsync, type Result } from 'neverthrow';
import type { Logger } from '../logger.js';
import { endOfTurn } from '../runtime/end-of-turn.js';
import type { Runtime } from '../runtime/runtime.js';
import { Timer } from '../runtime/scheduler.js';
import type { CloseReason, Connection } from '../stack/tcp/connection.js';
import type { TcpConnectError, TcpEndpoint } from '../stack/tcp/endpoint.js';
import { SynRequest, type SynDecider } from '../stack/tcp/syn-request.js';
import { formatIpv4 } from '../wire/address.js';
import { closeServers, listenTcp, listenUnixStream, type HostBinding } from './expose-listen.js';
import { HostFlushQueue } from './host-flush-queue.js';
import { resetHostSocket } from './host-socket-reset.js';
import { RecentTuples, type SourceChoice } from './expose-source.js';
import { describeHostEnd, joinHostPort, type ExposeError, type ResolvedExpose } from './expose-spec.js';
import { TcpFlow, type FlowOwner } from './tcp-flow.js';

/** Forwarder-wide TCP counters (shared by every exposed TCP port). */
export interface ExposeTcpCounters {
  /** Host clients accepted. */
  accepted: number;
  /** Connections the guest accepted (flows started). */
  established: number;
  /** The guest answered RST: nothing listens on the guest port. */
  refused: number;
  /** The guest never answered within the connect timeout. */
  timedOut: number;
  /** No connection could be opened (no free gateway port). */
  failed: number;
  bytesToGuest: number;
  bytesToHost: number;
  hostResets: number;
  guestResets: number;
}

/** A fresh set of {@link ExposeTcpCounters}. */
export function newExposeTcpCounters(): ExposeTcpCounters {
  return { accepted: 0, established: 0, refused: 0, timedOut: 0, failed: 0, bytesToGuest: 0, bytesToHost: 0, hostResets: 0, guestResets: 0 };
}

/** What an exposed TCP port needs. */
export interface ExposeTcpOptions {
  endpoint: Pick<TcpEndpoint, 'connect'>;
  runtime: Runtime;
  logger: Logger;
  counters: ExposeTcpCounters;
  /** The source of the connection into the guest for a host client (expose-source.ts `chooseSource`). */
  source: (client: Socket) => SourceChoice;
  /** Tuples closed recently, shared by the forwarder's TCP ports; absent: none avoided. */
  recent?: RecentTuples;
  /** How long the guest has to answer a SYN before the client is reset, ms. */
  connectTimeoutMs: number;
  /** Whether the guest's MAC is known (for a precise log line when it never answers). */
  neighbourKnown?: (ip: number) => boolean;
  /** Runs the end-of-turn flush toward host sockets (default {@link endOfTurn}). */
  defer?: (fn: () => void) => void;
}

/** A client whose connection into the guest is still in its handshake. */
interface PendingClient {
  socket: Socket;
  conn: Connection | undefined;
  timer: Timer;
  timedOut: boolean;
  onEarlyError: () => void;
  /** The tuple to remember once the connection closes (it kept the client's port). */
  recentKey: string | undefined;
}

/**
 * {@link TcpFlow} remembers the SYN request an outbound flow was opened for; an exposed
 * connection is our active open, so it gets a request that is already decided and names the
 * same tuple from the guest's side. (TcpFlow only needs `req.srcIp` for its owner's bookkeeping,
 * which this owner does not use.)
 */
const DECIDED: SynDecider = { acceptSyn: () => undefined, refuseSyn: () => false, dropSyn: () => {}, isPending: () => false };
function activeOpenRequest(c: Connection, now: number): SynRequest {
  const params = { irs: c.irs, window: 0, mss: c.peerMss, windowScale: -1, sackPermitted: c.sackOn, hasTimestamps: c.tsOn, tsVal: 0 };
  return new SynRequest(DECIDED, c.remoteIp, c.remotePort, c.localIp, c.localPort, params, now);
}

/** Closes a host socket abruptly: RST for TCP; a Unix socket has no RST, so it is destroyed (the peer sees EOF or EPIPE). */
function resetSocket(s: Socket, pipe: boolean): void {
  if (s.destroyed) return;
  if (pipe) s.destroy();
  else resetHostSocket(s);
}

/** One exposed TCP or Unix-socket port. */
export class ExposeTcp implements FlowOwner {
  readonly counters: ExposeTcpCounters;
  private binding: HostBinding<Server> | undefined;
  private readonly pending = new Set<PendingClient>();
  /** Live flows, each with the tuple to remember when it closes (when it kept the client's port). */
  private readonly flows = new Map<TcpFlow, string | undefined>();
  private readonly flushes: HostFlushQueue;
  private closed = false;
  /** The port for log lines (`127.0.0.1:2222/tcp -> 192.168.65.2:22`), with a port 0 resolved once bound. */
  private what: string;
  private readonly pipe: boolean;

  constructor(
    private readonly p: ResolvedExpose,
    private readonly o: ExposeTcpOptions,
  ) {
    this.counters = o.counters;
    this.flushes = new HostFlushQueue(o.defer ?? endOfTurn.defer);
    this.what = `${describeHostEnd(p)} -> ${formatIpv4(p.guestIp)}:${p.guestPort}`;
    this.pipe = p.protocol === 'unix';
  }

  /** Binds the host end; resolves with the bound port (0 for a Unix socket). */
  start(): ResultAsync<number, ExposeError> {
    const onConnection = (s: Socket): void => this.accept(s);
    const bound = this.p.protocol === 'unix' ? listenUnixStream(this.p, onConnection) : listenTcp(this.p, onConnection);
    return bound.map((b) => {
      this.binding = b;
      this.what = `${describeHostEnd({ ...this.p, hostPort: b.port })} -> ${formatIpv4(this.p.guestIp)}:${this.p.guestPort}`;
      return b.port;
    });
  }

  /** Live connections (in handshake or proxying). */
  get connections(): number {
    return this.pending.size + this.flows.size;
  }

  /** Stops listening (unlinks a Unix socket) and resets every live connection on both sides. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.binding !== undefined) closeServers(this.binding, this.p.protocol === 'unix' ? this.p.hostPath : undefined);
    for (const pc of [...this.pending]) {
      this.pending.delete(pc);
      this.o.runtime.scheduler.disarm(pc.timer);
      resetSocket(pc.socket, this.pipe);
      pc.conn?.abort();
    }
    for (const f of [...this.flows.keys()]) {
      resetSocket(f.socket, this.pipe);
      f.conn?.abort();
    }
    this.flows.clear();
  }

  private accept(s: Socket): void {
    this.counters.accepted++;
    if (this.closed) {
      resetSocket(s, this.pipe);
      return;
    }
    const pc: PendingClient = {
      socket: s,
      conn: undefined,
      timer: new Timer(() => this.timeout(pc)),
      timedOut: false,
      onEarlyError: () => pc.conn?.abort(),
      recentKey: undefined,
    };
    s.on('error', pc.onEarlyError);
    s.on('close', pc.onEarlyError);
    const r = this.openIntoGuest(pc);
    if (r.isErr()) {
      this.counters.failed++;
      this.o.logger.warn(`${this.what}: cannot open a connection into the guest: ${r.error.message}`);
      resetSocket(s, this.pipe);
      return;
    }
    pc.conn = r.value;
    this.pending.add(pc);
    this.o.runtime.scheduler.armIn(pc.timer, this.o.connectTimeoutMs);
  }

  /**
   * Opens the connection into the guest from the client's source; on a taken tuple (live here,
   * or closed recently) from the same address and an ephemeral port.
   */
  private openIntoGuest(pc: PendingClient): Result<Connection, TcpConnectError> {
    const src = this.o.source(pc.socket);
    const to = {
      remoteIp: this.p.guestIp,
      remotePort: this.p.guestPort,
      handlers: { onEstablished: () => this.established(pc), onClose: (reason: CloseReason) => this.handshakeFailed(pc, reason) },
    };
    if (src.why !== undefined && !this.pipe) this.o.logger.debug(`${this.what}: client ${this.clientName(pc.socket)} appears as the gateway: ${src.why}`);
    if (src.port === undefined) return this.o.endpoint.connect({ localIp: src.ip, ...to });
    const key = RecentTuples.key(src.ip, src.port, this.p.guestIp, this.p.guestPort);
    let why = 'closed less than a minute ago (the guest may hold it in TIME-WAIT)';
    if (this.o.recent?.has(key) !== true) {
      const r = this.o.endpoint.connect({ localIp: src.ip, localPort: src.port, ...to });
      if (r.isOk() || r.error.kind !== 'address-in-use') {
        if (r.isOk()) pc.recentKey = key;
        return r;
      }
      why = 'is in use';
    }
    const r = this.o.endpoint.connect({ localIp: src.ip, ...to });
    if (r.isOk()) {
      const tuple = `${formatIpv4(src.ip)}:${src.port} > ${formatIpv4(this.p.guestIp)}:${this.p.guestPort}`;
      this.o.logger.debug(`${this.what}: client ${this.clientName(pc.socket)}: ${tuple} ${why}; the guest sees ${formatIpv4(src.ip)}:${r.value.localPort}`);
    }
    return r;
  }

  private clientName(s: Socket): string {
    return s.remoteAddress === undefined ? 'on the Unix socket' : joinHostPort(s.remoteAddress, s.remotePort ?? 0);
  }

  private established(pc: PendingClient): void {
    if (!this.pending.delete(pc)) return;
    this.o.runtime.scheduler.disarm(pc.timer);
    const conn = pc.conn!;
    const s = pc.socket;
    this.counters.established++;
    const f = new TcpFlow(this, activeOpenRequest(conn, this.o.runtime.clock.now()), s);
    this.flows.set(f, pc.recentKey);
    f.start(conn);
    s.off('error', pc.onEarlyError);
    s.off('close', pc.onEarlyError);
    // Accepted sockets cannot use `onread`, so 'data' chunks feed the flow; false means the
    // guest's send ring is full and the flow resumes the socket on onWritable.
    s.on('data', (b: Buffer) => {
      if (!f.fromHost(b.length, b)) s.pause();
    });
    s.resume();
  }

  private timeout(pc: PendingClient): void {
    if (!this.pending.has(pc)) return;
    pc.timedOut = true;
    pc.conn?.abort();
  }

  /** The connection ended before ESTABLISHED: refused, timed out, or the client went away. */
  private handshakeFailed(pc: PendingClient, reason: CloseReason): void {
    if (!this.pending.delete(pc)) return;
    this.o.runtime.scheduler.disarm(pc.timer);
    const guest = `${formatIpv4(this.p.guestIp)}:${this.p.guestPort}`;
    if (pc.timedOut) {
      this.counters.timedOut++;
      const known = this.o.neighbourKnown?.(this.p.guestIp);
      const why =
        known === false
          ? `no ARP answer from ${formatIpv4(this.p.guestIp)}: no guest has that address`
          : `no answer from ${guest} within ${this.o.connectTimeoutMs} ms`;
      this.o.logger.warn(`${this.what}: client refused: ${why}`);
    } else if (reason === 'refused') {
      this.counters.refused++;
      this.o.logger.info(`${this.what}: client refused: nothing listens on ${guest} (the guest answered RST)`);
    } else if (reason !== 'aborted' || !pc.socket.destroyed) {
      this.o.logger.info(`${this.what}: connection into the guest ended during the handshake (${reason})`);
    }
    resetSocket(pc.socket, this.pipe);
  }

  /** @internal */
  queueFlush(f: TcpFlow): void {
    this.flushes.add(f);
  }

  /** Writes every flow's batch to its host socket now (normally at the end of the turn). */
  flush(): void {
    this.flushes.flush();
  }

  /** @internal */
  flowClosed(f: TcpFlow): void {
    const key = this.flows.get(f);
    this.flows.delete(f);
    if (key !== undefined) this.o.recent?.add(key);
  }
}
