/**
 * A "guest" TCP (one of our own endpoints, playing the VM's kernel) wired to the gateway's TCP
 * endpoint through an in-memory link, with the outbound forwarder installed on the gateway side:
 * the guest connects to an address, the forwarder connects the real host socket on 127.0.0.1.
 * Segments cross the link in a `setImmediate` batch (like frames arriving in a later read), and
 * every one is logged so tests can check what the guest saw and in what order.
 * TCP timers run on a ManualScheduler (nothing retransmits unless a test advances it); sockets
 * run on the real event loop.
 * @module
 */
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import type { TcpConfig } from '../../../src/stack/tcp/config.js';
import type { CloseReason, Connection } from '../../../src/stack/tcp/connection.js';
import { TcpEndpoint } from '../../../src/stack/tcp/endpoint.js';
import type { TcpPacketOutput } from '../../../src/stack/tcp/output.js';
import { TcpOutbound, type TcpOutboundOptions } from '../../../src/forward/tcp-outbound.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { Drop, type DropCode } from '../../../src/wire/drop.js';
import { FrameInfo } from '../../../src/wire/frame-info.js';
import { formatTcpFlags, tcpDstPort, tcpFlags, tcpHeaderLength, tcpSrcPort } from '../../../src/wire/tcp.js';

export const GUEST = parseIpv4('192.168.65.2')!;
export const HOST_ALIAS = parseIpv4('192.168.65.254')!;

/** One logged segment. */
export interface Logged {
  dir: 'to-gw' | 'to-guest';
  flags: string;
  len: number;
}

class LinkOut implements TcpPacketOutput {
  readonly l4 = 0;
  lastDrop: DropCode = Drop.None;
  private readonly scratch = Buffer.alloc(70_000);
  private src = 0;
  private dst = 0;
  private len = 0;
  private queue: Array<[Buffer, number, number]> = [];
  private scheduled = false;
  private readonly info = new FrameInfo();
  peer: TcpEndpoint | undefined;
  constructor(
    readonly mtu: number,
    private readonly dir: Logged['dir'],
    private readonly log: Logged[],
  ) {}
  begin(src: number, dst: number, _p: number, len: number): Uint8Array | undefined {
    this.src = src;
    this.dst = dst;
    this.len = len;
    return this.scratch;
  }
  commit(): void {
    const b = Buffer.from(this.scratch.subarray(0, this.len));
    this.log.push({ dir: this.dir, flags: formatTcpFlags(tcpFlags(b, 0)), len: b.length - tcpHeaderLength(b, 0) });
    this.queue.push([b, this.src, this.dst]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
  }
  portIdOf(): number {
    return 1;
  }
  private deliver(): void {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    const info = this.info;
    for (const [b, src, dst] of q) {
      info.buf = b;
      info.l4 = 0;
      info.l4Len = b.length;
      info.srcIp = src;
      info.dstIp = dst;
      info.srcPort = tcpSrcPort(b, 0);
      info.dstPort = tcpDstPort(b, 0);
      info.payload = tcpHeaderLength(b, 0);
      info.payloadLen = b.length - info.payload;
      this.peer!.input(info);
    }
    this.peer!.flush();
  }
}

/** Options of a {@link GuestPair}. */
export interface PairOptions {
  mtu?: number;
  guestConfig?: TcpConfig;
  gatewayConfig?: TcpConfig;
  outbound?: Partial<TcpOutboundOptions>;
}

/** What a guest-side connection received and how it ended. */
export class GuestConn {
  readonly chunks: Buffer[] = [];
  ended = false;
  closed: CloseReason | undefined;
  established = false;
  constructor(readonly conn: Connection) {
    conn.setHandlers({
      onEstablished: () => (this.established = true),
      onData: (b, off, len) => void this.chunks.push(Buffer.from(b.subarray(off, off + len))),
      onEnd: () => (this.ended = true),
      onClose: (r) => (this.closed = r),
    });
  }
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
  /** Sends all of `data` (feeding on onWritable), optionally shutting down after. */
  sendAll(data: Buffer, shutdown = false): void {
    let off = 0;
    const fill = (): void => {
      while (off < data.length) {
        const n = this.conn.send(data, off, data.length - off);
        if (n === 0) return;
        off += n;
      }
      if (shutdown) this.conn.shutdown();
    };
    this.conn.onWritable = fill;
    fill();
  }
}

/** Guest endpoint + gateway endpoint + forwarder. */
export class GuestPair {
  readonly sched = new ManualScheduler();
  readonly log: Logged[] = [];
  readonly guest: TcpEndpoint;
  readonly gw: TcpEndpoint;
  readonly outbound: TcpOutbound;
  constructor(o: PairOptions = {}) {
    const mtu = o.mtu ?? 1500;
    const toGw = new LinkOut(mtu, 'to-gw', this.log);
    const toGuest = new LinkOut(mtu, 'to-guest', this.log);
    const rt = (seed: number) => ({ clock: this.sched.clock, scheduler: this.sched, rng: new SeededRng(seed) });
    this.guest = new TcpEndpoint({ output: toGw, runtime: rt(1), config: o.guestConfig });
    this.gw = new TcpEndpoint({ output: toGuest, runtime: rt(2), config: o.gatewayConfig });
    toGw.peer = this.gw;
    toGuest.peer = this.guest;
    this.outbound = new TcpOutbound({ endpoint: this.gw, runtime: rt(3), hostLoopbackIp: HOST_ALIAS, ...o.outbound });
    this.outbound.attach();
  }

  /** The guest opens a connection to `dst:port` (default: the host-loopback alias). */
  connect(port: number, dst = HOST_ALIAS, srcIp = GUEST): GuestConn {
    const c = this.guest.connect({ localIp: srcIp, remoteIp: dst, remotePort: port })._unsafeUnwrap();
    return new GuestConn(c);
  }

  /** The gateway-side connection of a guest connection. */
  gatewaySide(g: GuestConn): Connection | undefined {
    const c = g.conn;
    return this.gw.find(c.remoteIp, c.remotePort, c.localIp, c.localPort);
  }
}

/** Resolves when `pred()` holds, checking after every I/O turn; rejects after `maxTurns`. */
export async function until(pred: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (pred()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`until: gave up waiting for ${what}`);
}
