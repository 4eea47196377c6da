/**
 * The two ends of the ICMP echo forwarder (`icmp-echo.ts`): the host socket a flow sends through
 * ({@link EchoSocket}, a {@link PingSocket} in production, fakes in tests), and how replies and
 * errors are written toward guests ({@link IcmpEchoSender}).
 * @module
 */
import type { Result } from 'neverthrow';
import type { VnetError } from '../errors.js';
import type { PingSocket } from '../native/ping-socket.js';
import type { IcmpLayer } from '../stack/icmp.js';
import type { Ipv4Emitter } from '../stack/ipv4-fragmenter.js';
import type { DropCode } from '../wire/drop.js';
import { ICMP_HLEN, IcmpType, writeIcmp } from '../wire/icmpv4.js';
import { IpProto } from '../wire/ipv4.js';

/** The host socket a flow sends through; {@link PingSocket} is one. */
export interface EchoSocket {
  /** The identifier the kernel stamps on this socket's requests (0 until the first send). */
  readonly identifier: number;
  /** Sends an echo request (ICMP header and data, no IP header) to the IP literal `dst`. */
  send(dst: string, icmp: Uint8Array, off: number, len: number): Result<void, VnetError & { code?: string }>;
  /** Starts delivering replies: source IP literal and the message (a fresh copy). */
  onReply(handler: (src: string, message: Buffer) => void): void;
  /** Receive errors. */
  onError(handler: (e: VnetError & { code?: string }) => void): void;
  /** Lets the process exit while the socket is open. */
  unref?(): void;
  close(): void;
}

/** Opens one {@link EchoSocket} (tests inject fakes; default `PingSocket.open(4)`). */
export type EchoSocketOpener = () => Result<EchoSocket, VnetError>;

/** How the forwarder writes ICMP toward guests. */
export interface IcmpEchoSender {
  /** An echo reply from `src` to guest `dst` carrying `id`, `seq` and `data[off, off+len)`. */
  echoReply(src: number, dst: number, id: number, seq: number, data: Uint8Array, off: number, len: number, dstMac: number): DropCode;
  /** A destination unreachable from `from` quoting the packet at `quote[qOff]` (IP header + 8 bytes). */
  unreachable(from: number, quote: Uint8Array, qOff: number, qLen: number, code: number, dstMac: number): DropCode;
  /** Counts an echo request dropped unanswered (the gateway's `echoDropped`). */
  dropped(): void;
}

/**
 * The network's {@link IcmpEchoSender}: replies through `out` (the fragmenter, so a large echo is
 * cut to the guest's MTU), errors and the drop count through the gateway's ICMP layer.
 */
export function icmpEchoSender(out: Ipv4Emitter, icmp: IcmpLayer): IcmpEchoSender {
  return {
    echoReply(src, dst, id, seq, data, off, len, dstMac) {
      const total = ICMP_HLEN + len;
      const o = out.begin(src, dst, IpProto.ICMP, total, dstMac);
      if (o === undefined) return out.lastDrop;
      const l4 = out.l4;
      o.set(data.subarray(off, off + len), l4 + ICMP_HLEN);
      writeIcmp(o, l4, total, IcmpType.EchoReply, 0, ((id << 16) | seq) >>> 0);
      out.commit();
      return out.lastDrop;
    },
    unreachable(from, quote, qOff, qLen, code, dstMac) {
      return icmp.sendUnreachable(from, quote, qOff, qLen, code, 0, dstMac);
    },
    dropped() {
      icmp.stats.echoDropped++;
    },
  };
}
