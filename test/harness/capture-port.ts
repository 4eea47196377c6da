/**
 * A switch port that records what it is given, for in-process tests. `writable = false` makes it
 * refuse frames like a NIC over its high-water mark.
 */
import { PortCounters, deliverByCopy, type SwitchPort } from '../../src/switch/port.js';
import type { DropCode } from '../../src/wire/drop.js';

export class CapturePort implements SwitchPort {
  id = 0;
  readonly counters = new PortCounters();
  onDrain: (() => void) | undefined;
  readonly frames: Buffer[] = [];
  txBuf = Buffer.alloc(70000);
  writable = true;
  constructor(
    readonly name = 'capture',
    readonly maxFrame = 1514,
  ) {}
  reserve(len: number): number {
    if (!this.writable || len > this.txBuf.length) return -1;
    return 0;
  }
  commit(off: number, len: number): void {
    this.frames.push(Buffer.from(this.txBuf.subarray(off, off + len)));
  }
  deliver(b: Uint8Array, off: number, len: number): DropCode {
    return deliverByCopy(this, b, off, len);
  }
  /** Takes and clears the recorded frames. */
  take(): Buffer[] {
    return this.frames.splice(0);
  }
}

/** Builds an Ethernet frame: dst, src MACs as `aa:bb:..` strings, ethertype, payload. */
export function ethFrame(dst: string, src: string, type: number, payload: Uint8Array | number = 46): Buffer {
  const p = typeof payload === 'number' ? Buffer.alloc(payload, 0x5a) : Buffer.from(payload);
  const b = Buffer.alloc(14 + p.length);
  Buffer.from(dst.replace(/:/g, ''), 'hex').copy(b, 0);
  Buffer.from(src.replace(/:/g, ''), 'hex').copy(b, 6);
  b.writeUInt16BE(type, 12);
  p.copy(b, 14);
  return b;
}
