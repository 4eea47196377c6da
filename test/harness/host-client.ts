/**
 * A host-side stream client for tests: records every chunk, the end, the close and the error
 * code of the socket it wraps.
 * @module
 */
import type { Socket } from 'node:net';

/** A host client with everything it saw recorded. */
export class HostClient {
  readonly chunks: Buffer[] = [];
  ended = false;
  closed = false;
  error = '';
  constructor(readonly s: Socket) {
    s.on('data', (b: Buffer) => this.chunks.push(b));
    s.on('end', () => (this.ended = true));
    s.on('error', (e: NodeJS.ErrnoException) => (this.error = e.code ?? e.message));
    s.on('close', () => (this.closed = true));
  }
  /** Everything received so far. */
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
  /** Everything received so far, as text. */
  get text(): string {
    return this.received.toString();
  }
}
