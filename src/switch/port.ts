/**
 * The contract between the switch and whatever sits on each of its ports: a NIC transport
 * (QEMU stream, vmnet, vsock), a host TAP, or the gateway's own stack.
 *
 * Buffer ownership: frames handed to {@link SwitchPort.deliver} are borrowed (valid only during
 * the call); a port that keeps them copies. Zero-copy emission goes through {@link FrameTx}: the
 * destination port owns the memory, the producer writes the frame in place and commits it.
 * @module
 */
import { DROP_CODES, type DropCode } from '../wire/drop.js';

/** Transmit side that lets a producer build a frame directly in the port's output buffer. */
export interface FrameTx {
  /**
   * Reserves room for a frame of `len` bytes. Returns the offset in {@link txBuf} to write the
   * frame at, or -1 when the port is closed or over its high-water mark (the caller drops or
   * waits for {@link SwitchPort.onDrain}).
   */
  reserve(len: number): number;
  /** The buffer the last successful {@link reserve} points into. */
  readonly txBuf: Uint8Array;
  /** Sends the frame written at `off` (`len` may be smaller than reserved). */
  commit(off: number, len: number): void;
}

/** Per-port traffic counters, surfaced by `stats()`. */
export class PortCounters {
  framesIn = 0;
  bytesIn = 0;
  framesOut = 0;
  bytesOut = 0;
  readonly drops = new Uint32Array(DROP_CODES);
  drop(code: DropCode): void {
    this.drops[code]!++;
  }
}

/** One attachment point of the switch. */
export interface SwitchPort extends FrameTx {
  /** Assigned by the switch at attach time. */
  id: number;
  /** Human label (`qemu:/path#3`, `gateway`), for logs and stats. */
  readonly name: string;
  /** Largest Ethernet frame (without framing) this port carries. */
  readonly maxFrame: number;
  readonly counters: PortCounters;
  /** Copies a borrowed frame out through this port. Returns why it was dropped, or 0. */
  deliver(b: Uint8Array, off: number, len: number): DropCode;
  /** Called once when the port's transmit queue falls back under its high-water mark. */
  onDrain: (() => void) | undefined;
  /** Whether the port can take more frames now. */
  readonly writable: boolean;
}

/** Shared `deliver` for ports that implement {@link FrameTx}: reserve, copy, commit. */
export function deliverByCopy(port: SwitchPort, b: Uint8Array, off: number, len: number): DropCode {
  if (len > port.maxFrame) return 10; // Drop.TooBig (literal: avoids an import cycle in hot code)
  const o = port.reserve(len);
  if (o < 0) return 9; // Drop.TxFull
  port.txBuf.set(b.subarray(off, off + len), o);
  port.commit(o, len);
  return 0;
}
