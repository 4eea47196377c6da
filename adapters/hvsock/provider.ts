/**
 * ONE interface for every vsock-like transport: AF_VSOCK, AF_HYPERV, hybrid vsock, hyperkit
 * files and plain Unix sockets all listen and connect the same way and yield plain Node
 * `Duplex` streams (so the vmnet protocol of protocols.md §1 or port forwarding can run over
 * any of them). {@link AnyVsockProvider} picks the implementation from the address.
 * @module
 */
import type { Duplex } from 'node:stream';
import type { ResultAsync } from 'neverthrow';
import type { HvsockError } from './errors.js';
import type { VsockListener } from './listener.js';
import { AfHypervProvider, AfVsockProvider, type NativeProviderOptions } from './native-providers.js';
import { HybridVsockProvider, HyperkitVsockProvider, UnixSocketProvider } from './unix-providers.js';
import type { ReadTiming } from './handshake-reader.js';
import type { VsockAddress } from './uri.js';

/** Listens on and connects to {@link VsockAddress}es of the transports it supports. */
export interface VsockProvider {
  /** Short name for logs. */
  readonly name: string;
  /** Starts listening; connections arrive as `connection` events on the listener. */
  listen(address: VsockAddress): ResultAsync<VsockListener, HvsockError>;
  /** Opens one connection; resolves when payload can flow. */
  connect(address: VsockAddress): ResultAsync<Duplex, HvsockError>;
}

/** Options for {@link AnyVsockProvider}. */
export interface AnyVsockProviderOptions extends NativeProviderOptions {
  /** Handshake timing for hybrid vsock. */
  readonly timing?: ReadTiming;
  /** Replace the provider for some transports (tests, custom transports). */
  readonly overrides?: Partial<Record<VsockAddress['transport'], VsockProvider>>;
}

/** Dispatches on `address.transport` to the matching provider. */
export class AnyVsockProvider implements VsockProvider {
  readonly name = 'any';
  private readonly byTransport: Record<VsockAddress['transport'], VsockProvider>;

  constructor(options: AnyVsockProviderOptions = {}) {
    this.byTransport = {
      vsock: new AfVsockProvider(options),
      hyperv: new AfHypervProvider(options),
      hybrid: new HybridVsockProvider(options.timing),
      hyperkit: new HyperkitVsockProvider(),
      unix: new UnixSocketProvider(),
    };
    for (const [t, p] of Object.entries(options.overrides ?? {})) {
      if (p !== undefined) this.byTransport[t as VsockAddress['transport']] = p;
    }
  }

  /** The provider that serves `address`. */
  providerFor(address: VsockAddress): VsockProvider {
    return this.byTransport[address.transport];
  }

  listen(address: VsockAddress): ResultAsync<VsockListener, HvsockError> {
    return this.providerFor(address).listen(address);
  }

  connect(address: VsockAddress): ResultAsync<Duplex, HvsockError> {
    return this.providerFor(address).connect(address);
  }
}
