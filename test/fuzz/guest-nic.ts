/**
 * An in-process guest for whole-network tests: a QEMU-framed in-memory stream attached with
 * `net.attach` (the real NIC path: framing, stream port, switch), a minimal guest "kernel" that
 * answers ARP for its address, hands TCP to one of our own {@link TcpEndpoint}s (playing the
 * guest's TCP), and lets tests wait for UDP/ICMP replies. Received bytes are processed in a later
 * `setImmediate` turn, like a real socket read, so nothing re-enters the network synchronously.
 * @module
 */
import type { Duplex } from 'node:stream';
import type { Nic } from '../../src/nic.js';
import { systemRuntime } from '../../src/runtime/runtime.js';
import { TcpEndpoint } from '../../src/stack/tcp/endpoint.js';
import type { TcpPacketOutput } from '../../src/stack/tcp/output.js';
import type { VirtualNetwork } from '../../src/virtual-network.js';
import { ArpOp, arpOp, arpTargetIp, writeArp } from '../../src/wire/arp.js';
import { Drop, type DropCode } from '../../src/wire/drop.js';
import { EtherType, writeEthernet } from '../../src/wire/ethernet.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { IpProto, writeIpv4 } from '../../src/wire/ipv4.js';
import { arpSenderIp, arpSenderMac } from '../../src/wire/arp.js';
import { duplexPair } from '../harness/duplex-pair.js';

export const BROADCAST = 0xffffffffffff;

/** Writes a frame with a QEMU u32 BE length prefix. */
export function qemuFramed(f: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + f.length);
  b.writeUInt32BE(f.length, 0);
  b.set(f, 4);
  return b;
}

/** A frame handler: return true to be removed. */
export type FrameListener = (info: FrameInfo, frame: Buffer) => boolean | void;

class GuestTcpOut implements TcpPacketOutput {
  readonly l4 = 34;
  readonly lastDrop: DropCode = Drop.None;
  private readonly buf = Buffer.alloc(1514);
  private len = 0;
  private id = 1;
  constructor(
    private readonly g: GuestNic,
    readonly mtu: number,
  ) {}
  begin(src: number, dst: number, protocol: number, payloadLen: number): Uint8Array | undefined {
    if (payloadLen + 20 > this.mtu) throw new Error(`guest TCP: ${payloadLen + 20} bytes over MTU ${this.mtu}`);
    writeEthernet(this.buf, 0, this.g.gatewayMac, this.g.mac, EtherType.IPv4);
    writeIpv4(this.buf, 14, 20 + payloadLen, this.id++ & 0xffff, 64, protocol, src, dst);
    this.len = 34 + payloadLen;
    return this.buf;
  }
  commit(): void {
    this.g.send(this.buf.subarray(0, this.len));
  }
  portIdOf(): number {
    return 1;
  }
}

/** A guest NIC on a QEMU stream. */
export class GuestNic {
  readonly nic: Nic;
  /** The guest's end of the stream. */
  readonly stream: Duplex;
  ip = 0;
  tcp: TcpEndpoint | undefined;
  framesIn = 0;
  private rx: Buffer = Buffer.alloc(0);
  private readonly pending: Buffer[] = [];
  private scheduled = false;
  private readonly info = new FrameInfo();
  private listeners: FrameListener[] = [];

  constructor(
    net: VirtualNetwork,
    readonly name: string,
    readonly mac: number,
    readonly gatewayMac: number,
    o: { tcp?: boolean } = {},
  ) {
    const [ours, theirs] = duplexPair();
    this.nic = net.attach(ours, { framing: 'qemu', name })._unsafeUnwrap();
    this.stream = theirs;
    theirs.on('data', (c: Buffer) => {
      // A copy: the NIC may reuse its output buffer once the write returned (a socket copies too).
      this.pending.push(Buffer.from(c));
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
    if (o.tcp) this.tcp = new TcpEndpoint({ output: new GuestTcpOut(this, net.options.mtu), runtime: systemRuntime() });
  }

  /** Sends one frame into the network. */
  send(f: Uint8Array): void {
    this.stream.write(qemuFramed(f));
  }

  /** Calls `fn` for every well-formed frame for us (or broadcast) until it returns true. */
  listen(fn: FrameListener): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  /** Resolves with the first value `pick` returns for a received frame, rejects after `ms`. */
  waitFor<T>(pick: (info: FrameInfo, frame: Buffer) => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const stop = this.listen((info, frame) => {
        const v = pick(info, frame);
        if (v === undefined) return false;
        clearTimeout(t);
        resolve(v);
        return true;
      });
      const t = setTimeout(() => {
        stop();
        reject(new Error(`${this.name}: no ${what} within ${ms} ms`));
      }, ms);
    });
  }

  private drain(): void {
    this.scheduled = false;
    const chunks = this.pending.splice(0);
    this.rx = this.rx.length === 0 && chunks.length === 1 ? chunks[0]! : Buffer.concat([this.rx, ...chunks]);
    let off = 0;
    while (this.rx.length - off >= 4) {
      const len = this.rx.readUInt32BE(off);
      if (this.rx.length - off - 4 < len) break;
      this.frame(this.rx.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.rx = this.rx.subarray(off);
  }

  private frame(f: Buffer): void {
    this.framesIn++;
    const info = this.info;
    if (parseFrame(f, 0, f.length, info, true) !== Drop.None) return;
    if (info.dstMac !== this.mac && info.dstMac !== BROADCAST) return;
    if (info.etherType === EtherType.ARP) {
      if (this.ip !== 0 && arpOp(f, 14) === ArpOp.Request && arpTargetIp(f, 14) === this.ip) {
        const r = Buffer.alloc(60);
        writeEthernet(r, 0, arpSenderMac(f, 14), this.mac, EtherType.ARP);
        writeArp(r, 14, ArpOp.Reply, this.mac, this.ip, arpSenderMac(f, 14), arpSenderIp(f, 14));
        this.send(r);
      }
    } else if (info.protocol === IpProto.TCP && !info.fragment && this.ip !== 0 && info.dstIp === this.ip) {
      this.tcp?.input(info);
    }
    for (const l of [...this.listeners]) {
      if (l(info, f) === true) this.listeners = this.listeners.filter((x) => x !== l);
    }
  }
}
