/**
 * Unprivileged ICMP echo ("ping") sockets: `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)` (and
 * the ICMPv6 twin). This lets vnetkit forward a guest's ping to the real destination and
 * relay the real answer instead of faking replies (protocols.md §4.6).
 *
 * Kernel behaviour the caller must know:
 * - `send()` takes an ICMP echo request (type 8 / ICMPv6 128) WITHOUT an IP header. The
 *   kernel replaces the identifier with this socket's {@link PingSocket.identifier} and
 *   computes the checksum; the sequence number and payload are kept, so a forwarder maps
 *   replies back to guests by (destination, sequence) or uses one socket per guest flow.
 * - Replies arrive without an IP header and carry this socket's identifier.
 * - Linux permits these sockets only to groups inside `net.ipv4.ping_group_range`
 *   (which also governs ICMPv6); otherwise creation fails with `EACCES`, reported here
 *   with the current range and the sysctl that fixes it.
 * @module
 */
import { readFileSync } from 'node:fs';
import { err, ok, type Result } from 'neverthrow';
import { loadNative, type NativeUnavailable } from './index.js';
import type { FdHandle, NativeAddon } from './native-addon.js';
import { osError, UV_EACCES, UV_EAGAIN, type OsError } from './os-error.js';

/** Called for each reply: `src` is the replying host's IP literal, `message` a fresh copy. */
export type PingReplyHandler = (src: string, message: Buffer) => void;

const MAX_MESSAGE = 65536;

/** Why EACCES happened, in words an operator can act on. */
function accessHint(): string {
  let range = 'unknown';
  try {
    range = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().replace(/\s+/g, ' ');
  } catch {
    /* not Linux, or /proc unavailable: the generic hint below still applies */
  }
  const gid = typeof process.getgid === 'function' ? String(process.getgid()) : 'unknown';
  return `ICMP ping sockets are not permitted for this process (gid ${gid}; net.ipv4.ping_group_range is '${range}'); allow them with: sysctl -w net.ipv4.ping_group_range='0 2147483647'`;
}

/** An open ping socket (see module docs). */
export class PingSocket {
  private readonly buffer = Buffer.allocUnsafe(MAX_MESSAGE);
  private handler: PingReplyHandler | undefined;
  private errorHandler: ((e: OsError) => void) | undefined;
  private reading = false;
  private closed = false;
  private readonly onReadable = (status: number): void => this.drain(status);

  private constructor(
    private readonly handle: FdHandle,
    private readonly native: NativeAddon,
    /** 4 for ICMP, 6 for ICMPv6. */
    readonly family: 4 | 6,
  ) {}

  /**
   * The ICMP identifier the kernel stamps on this socket's echo requests (its "port"). The
   * kernel binds one at the first send, so this is 0 before then.
   */
  get identifier(): number {
    const name = this.native.getsockname(this.handle.fd());
    return typeof name === 'object' && 'port' in name ? name.port : 0;
  }

  /** Opens a ping socket; `EACCES` (group not allowed) comes back as an `os-error` that says so. */
  static open(family: 4 | 6 = 4): Result<PingSocket, NativeUnavailable | OsError> {
    return loadNative().andThen((native) => {
      const fd = native.pingSocket(family);
      if (fd < 0) {
        const detail = fd === UV_EACCES ? accessHint() : `cannot open an ICMPv${family === 4 ? 4 : 6} ping socket`;
        return err(osError('pingSocket', fd, detail));
      }
      return ok(new PingSocket(new native.FdHandle(fd), native, family));
    });
  }

  /** Sends one echo request (`icmp[off, off+len)`, no IP header) to the IP literal `dst`. */
  send(dst: string, icmp: Uint8Array, off = 0, len = icmp.length - off): Result<void, OsError> {
    const n = this.handle.sendTo(icmp, off, len, dst, 0);
    if (n < 0) return err(osError('ping sendto', n, dst));
    return ok(undefined);
  }

  /** Sets the reply callback and starts receiving. */
  onReply(handler: PingReplyHandler): void {
    this.handler = handler;
    if (this.reading || this.closed) return;
    const r = this.handle.startReading(this.onReadable);
    if (r < 0) {
      this.report(osError('poll', r));
      return;
    }
    this.reading = true;
  }

  /** Receive errors (rare: ICMP errors are not queued on ping sockets without IP_RECVERR). */
  onError(handler: (e: OsError) => void): void {
    this.errorHandler = handler;
  }

  /** Lets the process exit while the socket is open. */
  unref(): void {
    this.handle.unref();
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reading = false;
    this.handle.close();
  }

  private report(e: OsError): void {
    if (this.errorHandler !== undefined) this.errorHandler(e);
  }

  private drain(status: number): void {
    if (status < 0) {
      const soErr = this.handle.socketError();
      this.reading = false;
      this.report(osError('ping recv', soErr < 0 ? soErr : status));
      return;
    }
    for (let i = 0; i < 64 && !this.closed; i++) {
      const n = this.handle.recvFrom(this.buffer);
      if (n === UV_EAGAIN) return;
      if (n < 0) {
        // A queued ICMP error (e.g. EHOSTUNREACH) is per-datagram: report it and keep going.
        this.report(osError('ping recv', n));
        continue;
      }
      this.handler?.(this.handle.sourceAddress(), Buffer.from(this.buffer.subarray(0, n)));
    }
  }
}
