/**
 * The JavaScript shape of `vnetkit_native.node` (src/native/*.c). Every call that can fail
 * returns a negative libuv error code instead of throwing (see {@link ./os-error.ts}); only
 * wrong argument types throw `TypeError`. Most code should use the typed wrappers
 * (`FdStream`, `TapDevice`, `PingSocket`, the hvsock provider) rather than these calls.
 * @module
 */

/** Readiness callback: `status` is 0, or a negative code when the poll itself failed
 * (libuv reports POLLERR as `EBADF`; read `socketError()` for the real reason). */
export type ReadinessCallback = (status: number) => void;

/** A non-blocking descriptor polled on Node's event loop (native `FdHandle`). */
export interface FdHandle {
  /** The descriptor, or -1 once closed. */
  fd(): number;
  /** 0 when the descriptor can be polled, else why not (e.g. `EPERM` for regular files). */
  pollStatus(): number;
  /** Calls `cb` whenever the descriptor is readable (level-triggered) until stopped. */
  startReading(cb: ReadinessCallback): number;
  /** Stops readable notifications. */
  stopReading(): number;
  /** Calls `cb` once, the next time the descriptor is writable (also used for connect completion). */
  awaitWritable(cb: ReadinessCallback): number;
  /** One `read()`: bytes (> 0), 0 at end of stream, or a negative code (`EAGAIN` when empty). */
  read(buf: Uint8Array): number;
  /** One `write()` of `buf[off, off+len)`: bytes written or a negative code (`EAGAIN` when full). */
  write(buf: Uint8Array, off: number, len: number): number;
  /** One `sendto()` to an IPv4/IPv6 literal: bytes or a negative code. */
  sendTo(buf: Uint8Array, off: number, len: number, ip: string, port: number): number;
  /** One `recvfrom()`: bytes or a negative code; the source is then {@link sourceAddress}. */
  recvFrom(buf: Uint8Array): number;
  /** Source IP literal of the last successful {@link recvFrom}. */
  sourceAddress(): string;
  /** `shutdown(SHUT_WR)`: sends end-of-stream while keeping the read side open. */
  shutdownWrite(): number;
  /** `SO_ERROR` as 0 or a negative code (the outcome of a non-blocking connect). */
  socketError(): number;
  /** Lets the poll keep the process alive (the default). */
  ref(): void;
  /** Lets the process exit while this handle is being polled. */
  unref(): void;
  /** Stops polling and closes the descriptor; idempotent. */
  close(): number;
}

/** A freshly accepted AF_VSOCK connection. */
export interface VsockAccepted {
  readonly fd: number;
  readonly cid: number;
  readonly port: number;
}

/** A socket whose connect may still be in progress. */
export interface PendingConnect {
  readonly fd: number;
  /** True when the connect completes later: wait for writable, then read `socketError()`. */
  readonly pending: boolean;
}

/** A freshly accepted AF_HYPERV connection (Windows). */
export interface HvsockAccepted {
  readonly fd: number;
  /** Peer VM id, 16 bytes in Windows GUID memory order. */
  readonly vmId: Uint8Array;
  /** Service id, 16 bytes in Windows GUID memory order. */
  readonly serviceId: Uint8Array;
}

/** Result of `getsockname()`. */
export type SocketName =
  | { readonly family: 'vsock'; readonly cid: number; readonly port: number }
  | { readonly family: 'inet' | 'inet6'; readonly address: string; readonly port: number }
  | { readonly family: 'other' };

/** The loaded addon. Functions a platform lacks return `ENOSYS`. */
export interface NativeAddon {
  /** Which half of the addon was compiled: Linux sockets, or Windows AF_HYPERV. */
  readonly platform: 'linux' | 'win32' | 'posix';
  /** Bumped when this interface changes incompatibly. */
  readonly abiVersion: number;
  /** Wraps (and takes ownership of) a descriptor; sets it non-blocking. */
  readonly FdHandle: new (fd: number) => FdHandle;
  /** socket+bind+listen on AF_VSOCK; `cid` -1 is VMADDR_CID_ANY, `port` -1 VMADDR_PORT_ANY. */
  vsockListen(cid: number, port: number, backlog: number): number;
  /** accept4 on a listening AF_VSOCK socket (`EAGAIN` when nothing is pending). */
  vsockAccept(fd: number): VsockAccepted | number;
  /** Non-blocking connect on AF_VSOCK. */
  vsockConnect(cid: number, port: number): PendingConnect | number;
  /** This machine's CID (`IOCTL_VM_SOCKETS_GET_LOCAL_CID` on /dev/vsock). */
  vsockLocalCid(): number;
  /** `getsockname()` of any socket. */
  getsockname(fd: number): SocketName | number;
  /** Opens `/dev/net/tun` as a TAP (IFF_TAP|IFF_NO_PI); empty name = kernel picks. */
  openTap(name: string, multiQueue: boolean): { readonly fd: number; readonly name: string } | number;
  /** Unprivileged ICMP echo socket (`SOCK_DGRAM`, `IPPROTO_ICMP` / `IPPROTO_ICMPV6`). */
  pingSocket(family: 4 | 6): number;
  /** A connected AF_UNIX stream pair. */
  socketPair(): [number, number] | number;
  /** Sets or clears O_NONBLOCK. */
  setNonBlocking(fd: number, on: boolean): number;
  /** Closes a descriptor not (yet) wrapped in an FdHandle. */
  closeFd(fd: number): number;
  /** AF_HYPERV listen (Windows only; GUIDs in Windows memory order). */
  hvsockListen(vmId: Uint8Array, serviceId: Uint8Array, backlog: number): number;
  /** AF_HYPERV accept (Windows only). */
  hvsockAccept(fd: number): HvsockAccepted | number;
  /** AF_HYPERV non-blocking connect (Windows only). */
  hvsockConnect(vmId: Uint8Array, serviceId: Uint8Array): PendingConnect | number;
}
