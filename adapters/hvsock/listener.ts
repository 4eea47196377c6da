/**
 * The listening half of every {@link VsockProvider}: an event emitter of accepted streams.
 * @module
 */
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import type { HvsockError } from './errors.js';
import type { Guid } from './guid.js';
import type { VsockAddress } from './uri.js';

/** What is known about the other end of an accepted connection (fields vary by transport). */
export interface VsockPeer {
  readonly transport: VsockAddress['transport'];
  /** AF_VSOCK: the peer's CID. */
  readonly cid?: number;
  /** AF_VSOCK: the peer's port. */
  readonly port?: number;
  /** AF_HYPERV: the peer partition. */
  readonly vmId?: Guid;
  /** AF_HYPERV: the service the peer connected to. */
  readonly serviceId?: Guid;
}

/** Events of a {@link VsockListener}. */
export interface VsockListenerEvents {
  /** A new connection; the handler owns (and must eventually end or destroy) the stream. */
  connection: [stream: Duplex, peer: VsockPeer];
  /** A non-fatal accept problem (e.g. out of descriptors); listening continues. */
  error: [error: HvsockError];
}

/** A listening endpoint. Connections arriving while nobody listens for `connection` are closed. */
export class VsockListener extends EventEmitter<VsockListenerEvents> {
  private closed = false;

  constructor(
    /** The bound address (with the real port when the kernel chose it). */
    readonly address: VsockAddress,
    private readonly stop: () => Promise<void>,
  ) {
    super();
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Hands an accepted stream to the `connection` handlers. @internal (providers only) */
  deliver(stream: Duplex, peer: VsockPeer): void {
    if (this.closed || this.listenerCount('connection') === 0) {
      stream.destroy();
      return;
    }
    this.emit('connection', stream, peer);
  }

  /** Reports a non-fatal error; dropped when nobody listens for `error`. @internal */
  report(e: HvsockError): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  /** Stops accepting; connections already handed out stay open. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.stop();
  }
}
