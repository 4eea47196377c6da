/**
 * The classic libpcap file format (magic 0xa1b2c3d4, microsecond timestamps, LINKTYPE_ETHERNET),
 * readable by tcpdump and Wireshark. The writer copies each frame it records into its own
 * buffered chunk and flushes in batches, so capture never holds a borrowed frame.
 * @module
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { err, ok, type Result } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../errors.js';

/** Global header length. */
export const PCAP_GLOBAL_HLEN = 24;
/** Per-record header: seconds, microseconds, captured length, original length. */
export const PCAP_RECORD_HLEN = 16;
const LINKTYPE_ETHERNET = 1;
const CHUNK = 256 * 1024;

/** Writes the 24-byte global header into `b` at 0. */
export function writePcapGlobalHeader(b: Buffer, snaplen: number): void {
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt32LE(snaplen, 16);
  b.writeUInt32LE(LINKTYPE_ETHERNET, 20);
}

/** An open capture file. */
export class PcapWriter {
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private closed = false;
  private flushQueued = false;
  /** Frames recorded so far. */
  frames = 0;

  private constructor(
    private readonly out: WriteStream,
    readonly snaplen: number,
  ) {
    writePcapGlobalHeader(this.chunk, snaplen);
    this.used = PCAP_GLOBAL_HLEN;
    this.scheduleFlush();
  }

  /**
   * Opens `path` for writing (truncating it). `snaplen` caps the bytes kept per frame. The file
   * is opened synchronously so a bad path is reported here: a stream opened by name reports it
   * later as an 'error' event, after which every frame would be dropped silently.
   */
  static open(path: string, snaplen = 262144): Result<PcapWriter, VnetError<'pcap-open-failed'>> {
    try {
      const out = createWriteStream(path, { fd: openSync(path, 'w') });
      const w = new PcapWriter(out, snaplen);
      out.on('error', () => {
        w.closed = true;
      });
      return ok(w);
    } catch (e) {
      return err(vnetError('pcap-open-failed', `cannot open pcap file ${path}: ${describeError(e)}`, { cause: e }));
    }
  }

  /** Records one frame with a wall-clock timestamp in ms since the epoch. */
  record(b: Uint8Array, off: number, len: number, wallMs: number): void {
    if (this.closed) return;
    const incl = Math.min(len, this.snaplen);
    if (this.used + PCAP_RECORD_HLEN + incl > this.chunk.length) this.flush(PCAP_RECORD_HLEN + incl);
    const c = this.chunk;
    const sec = Math.floor(wallMs / 1000);
    c.writeUInt32LE(sec >>> 0, this.used);
    c.writeUInt32LE(Math.floor((wallMs - sec * 1000) * 1000) >>> 0, this.used + 4);
    c.writeUInt32LE(incl, this.used + 8);
    c.writeUInt32LE(len, this.used + 12);
    c.set(b.subarray(off, off + incl), this.used + PCAP_RECORD_HLEN);
    this.used += PCAP_RECORD_HLEN + incl;
    this.frames++;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush(0);
    });
  }

  private flush(need: number): void {
    if (this.used > 0 && !this.closed) this.out.write(this.chunk.subarray(0, this.used));
    // The stream keeps the written slice; start a fresh chunk rather than overwrite it.
    this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, need));
    this.used = 0;
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flush(0);
    this.closed = true;
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}
