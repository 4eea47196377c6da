/**
 * A Linux TAP device as a frame-oriented port: every `read()` on a TAP opened with
 * `IFF_TAP | IFF_NO_PI` yields exactly one Ethernet frame and every `write()` injects one
 * (so no framing is needed, unlike the stream transports of protocols.md §1.6 and §6).
 *
 * Frames are delivered through ONE reusable 65 KiB buffer: the callback must consume or copy
 * the bytes before returning. Writes never queue: when the kernel queue is full the frame is
 * dropped and counted, which is what a switch port does with a congested link.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { loadNative, type NativeUnavailable } from './index.js';
import type { FdHandle } from './native-addon.js';
import { osError, uvCode, UV_EAGAIN, type OsError } from './os-error.js';

/** Called once per received frame; `buf[0, len)` is valid only during the call. */
export type FrameHandler = (buf: Buffer, len: number) => void;

/** Options for {@link TapDevice.open}. */
export interface TapOptions {
  /** Open with IFF_MULTI_QUEUE (the device must be multi-queue for every opener). */
  readonly multiQueue?: boolean;
  /** Bound on frames read per readiness callback; default 64. */
  readonly framesPerWakeup?: number;
}

/** Counters since open. */
export interface TapStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames dropped because the kernel queue was full (`EAGAIN`). */
  txDropped: number;
}

/** Largest frame a TAP can hand us (64 KiB GSO frames plus headroom). */
export const TAP_BUFFER_SIZE = 65 * 1024;

const SENT: Result<boolean, OsError> = ok(true);
const DROPPED: Result<boolean, OsError> = ok(false);

/** An open TAP device (see module docs). */
export class TapDevice {
  /** Live counters. */
  readonly stats: TapStats = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDropped: 0 };
  private readonly buffer = Buffer.allocUnsafe(TAP_BUFFER_SIZE);
  private handler: FrameHandler | undefined;
  private errorHandler: ((e: OsError) => void) | undefined;
  private reading = false;
  private paused = false;
  private closed = false;
  private readonly framesPerWakeup: number;
  private readonly onReadable = (status: number): void => this.drain(status);

  private constructor(
    private readonly handle: FdHandle,
    /** The interface name the kernel gave the device. */
    readonly name: string,
    options: TapOptions,
  ) {
    this.framesPerWakeup = options.framesPerWakeup ?? 64;
  }

  /**
   * Creates (or attaches to a persistent) TAP device `name`; an empty name lets the kernel
   * choose `tapN`. Needs CAP_NET_ADMIN unless the device was made persistent for this user.
   */
  static open(name: string, options: TapOptions = {}): Result<TapDevice, NativeUnavailable | OsError> {
    return loadNative().andThen((native) => {
      const r = native.openTap(name, options.multiQueue === true);
      if (typeof r === 'number') return err(osError('openTap', r, `cannot open TAP device '${name}' via /dev/net/tun`));
      const handle = new native.FdHandle(r.fd);
      return ok(new TapDevice(handle, r.name, options));
    });
  }

  /** Sets the frame callback and starts reading (replaces a previous callback). */
  onFrame(handler: FrameHandler): void {
    this.handler = handler;
    this.startPolling();
  }

  /** Read errors (for instance the device was deleted) end reading and are reported here. */
  onError(handler: (e: OsError) => void): void {
    this.errorHandler = handler;
  }

  /** Stops taking frames from the kernel (they queue there, then drop) until {@link resume}. */
  pause(): void {
    this.paused = true;
    this.stopPolling();
  }

  /** Undoes {@link pause}. */
  resume(): void {
    this.paused = false;
    this.startPolling();
  }

  /** Injects one frame. `Ok(true)` sent, `Ok(false)` dropped (queue full), `Err` otherwise. */
  write(buf: Uint8Array, off = 0, len = buf.length - off): Result<boolean, OsError> {
    const n = this.handle.write(buf, off, len);
    if (n >= 0) {
      this.stats.txFrames++;
      this.stats.txBytes += n;
      return SENT;
    }
    if (n === UV_EAGAIN) {
      this.stats.txDropped++;
      return DROPPED;
    }
    return err(osError('tap write', n, this.name));
  }

  /** Lets the process exit while the device is open (the poll no longer keeps it alive). */
  unref(): void {
    this.handle.unref();
  }

  /** Closes the descriptor; a non-persistent device disappears with it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reading = false;
    this.handle.close();
  }

  private startPolling(): void {
    if (this.reading || this.paused || this.closed || this.handler === undefined) return;
    const r = this.handle.startReading(this.onReadable);
    if (r < 0) {
      this.fail(osError('poll', r, this.name));
      return;
    }
    this.reading = true;
  }

  private stopPolling(): void {
    if (!this.reading) return;
    this.reading = false;
    this.handle.stopReading();
  }

  private fail(e: OsError): void {
    this.stopPolling();
    if (this.errorHandler !== undefined) this.errorHandler(e);
  }

  private drain(status: number): void {
    if (status < 0) {
      this.reading = false;
      this.fail(osError('poll', status, this.name));
      return;
    }
    for (let i = 0; i < this.framesPerWakeup && this.reading; i++) {
      const n = this.handle.read(this.buffer);
      if (n === UV_EAGAIN) return;
      if (n <= 0) {
        // A TAP never returns 0 while it exists; treat 0 like an error so we do not spin.
        this.fail(osError('tap read', n === 0 ? uvCode('EIO') : n, this.name));
        return;
      }
      this.stats.rxFrames++;
      this.stats.rxBytes += n;
      this.handler!(this.buffer, n);
    }
  }
}
