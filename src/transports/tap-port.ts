/**
 * A switch port over a Linux TAP device: the host kernel becomes one more station on the bridge.
 * A TAP opened with `IFF_TAP | IFF_NO_PI` hands over exactly one Ethernet frame per `read()` and
 * takes exactly one per `write()`, so there is no framing and no batching: every frame leaving
 * through this port is one `write()` (a TAP cannot take two frames in one write, unlike the
 * stream transports whose batch buffer goes out in one syscall).
 *
 * Buffer ownership: frames read from the device live in the device's one reusable buffer and are
 * lent to the switch for the duration of the call (`switch.input` copies what it forwards).
 * Frames delivered to this port are written straight from the borrowed bytes (no copy);
 * frames a producer builds in place go into {@link TapPort.txBuf} (one frame, `maxFrame` bytes)
 * and are written at {@link TapPort.commit}.
 *
 * Backpressure: a TAP write never queues in user space. When the kernel refuses the frame
 * (`EAGAIN`, or `EIO` while the link is still down) the frame is dropped and counted as
 * `txFull`, which is what a congested switch port does; TCP above retransmits.
 * @module
 */
import type { Result } from 'neverthrow';
import type { FrameHandler } from '../native/tap-device.js';
import type { OsError } from '../native/os-error.js';
import { PortCounters, type SwitchPort } from '../switch/port.js';
import { Drop, type DropCode } from '../wire/drop.js';

/**
 * What the port needs from a TAP device; `TapDevice` (src/native/tap-device.ts) implements it,
 * tests use an in-memory fake.
 */
export interface FrameDevice {
  /** The kernel's interface name. */
  readonly name: string;
  /** Starts reading; `buf[0, len)` is valid only during the call. */
  onFrame(handler: FrameHandler): void;
  /** Read errors (the device was deleted, the poll failed) end reading and arrive here. */
  onError(handler: (e: OsError) => void): void;
  /** One frame: `Ok(true)` sent, `Ok(false)` dropped because the kernel queue is full. */
  write(buf: Uint8Array, off: number, len: number): Result<boolean, OsError>;
  /** Closes the descriptor; a non-persistent device disappears with it. */
  close(): void;
}

/** Options of a {@link TapPort}. */
export interface TapPortOptions {
  /** Label in logs and stats (e.g. `tap:vnk0`). */
  readonly name: string;
  /** Largest Ethernet frame in either direction: the interface MTU + 14. */
  readonly maxFrame: number;
}

/** Why a TAP port closed. */
export type TapPortCloseReason = { kind: 'closed'; message: string } | { kind: 'error'; message: string; cause?: unknown };

/** Errors of a write that mean "not now" rather than "this device is broken". */
const TRANSIENT_WRITE_ERRORS = new Set([
  'EIO', // written before the link is up (or after it was set down): tun drops with EIO
  'ENOBUFS',
  'ENOMEM',
]);

/** The port. Attach with `switch.attach(port)`, set {@link onFrame}, then {@link start}. */
export class TapPort implements SwitchPort {
  /** Assigned by the switch at attach time. */
  id = 0;
  /** Label in logs and stats. */
  readonly name: string;
  /** Largest frame in either direction (MTU + 14). */
  readonly maxFrame: number;
  /** Traffic and drop counters. */
  readonly counters = new PortCounters();
  /** Never called: a TAP write does not queue, so there is no queue to drain. */
  onDrain: (() => void) | undefined;
  /** Frame sink: the switch's input, bound by whoever attaches the port. */
  onFrame: (port: TapPort, b: Uint8Array, off: number, len: number) => void = () => {};
  /** Called once when the port closes for any reason. */
  onClose: ((reason: TapPortCloseReason) => void) | undefined;
  /** One frame's worth of room for in-place emission ({@link reserve}/{@link commit}). */
  readonly txBuf: Buffer;
  /** Writes refused by the kernel that were not `EAGAIN` (link down), for diagnostics. */
  txErrors = 0;
  private closed = false;

  constructor(
    private readonly device: FrameDevice,
    opts: TapPortOptions,
  ) {
    this.name = opts.name;
    this.maxFrame = opts.maxFrame;
    this.txBuf = Buffer.allocUnsafeSlow(opts.maxFrame);
  }

  /** Starts reading frames from the device into {@link onFrame}. */
  start(): void {
    this.device.onError((e) => this.close({ kind: 'error', message: `${this.name}: ${e.message}`, cause: e }));
    this.device.onFrame((buf, len) => {
      // One guard per input loop: a bug downstream closes this port only (style.md §5.4).
      try {
        this.onFrame(this, buf, 0, len);
      } catch (e) {
        this.close({ kind: 'error', message: `${this.name}: internal error while handling a frame: ${String(e)}`, cause: e });
      }
    });
  }

  /** A TAP write never blocks the producer: the port is writable until it closes. */
  get writable(): boolean {
    return !this.closed;
  }

  /** Room for one frame at offset 0 of {@link txBuf}; -1 when closed or larger than the MTU allows. */
  reserve(len: number): number {
    if (this.closed || len > this.txBuf.length) return -1;
    return 0;
  }

  /** Writes the frame built in {@link txBuf}; a refused frame is counted as a drop here. */
  commit(off: number, len: number): void {
    const r = this.send(this.txBuf, off, len);
    if (r !== Drop.None) this.counters.drop(r);
  }

  /** Writes a borrowed frame straight from the caller's buffer (the write copies it into the kernel). */
  deliver(b: Uint8Array, off: number, len: number): DropCode {
    if (len > this.maxFrame) return Drop.TooBig;
    return this.send(b, off, len);
  }

  /** Whether {@link close} ran. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops reading and closes the device (which deletes a non-persistent TAP). Idempotent. */
  close(reason: TapPortCloseReason = { kind: 'closed', message: `${this.name}: closed locally` }): void {
    if (this.closed) return;
    this.closed = true;
    this.device.close();
    this.onClose?.(reason);
  }

  private send(b: Uint8Array, off: number, len: number): DropCode {
    if (this.closed) return Drop.TxFull;
    const r = this.device.write(b, off, len);
    if (r.isOk()) return r.value ? Drop.None : Drop.TxFull;
    if (TRANSIENT_WRITE_ERRORS.has(r.error.code)) {
      this.txErrors++;
      return Drop.TxFull;
    }
    // EBADF, EFAULT, EBADFD…: the device is gone or the descriptor is broken; writing on is useless.
    this.close({ kind: 'error', message: `${this.name}: ${r.error.message}`, cause: r.error });
    return Drop.TxFull;
  }
}
