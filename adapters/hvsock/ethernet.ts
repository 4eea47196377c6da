/**
 * The vmnet Ethernet protocol (protocols.md §1) over any vsock-like transport, in both of
 * vpnkit's directions (§2.2): listen and let the VM's agent (vpnkit-tap-vsockd, hyperkit's
 * virtio-vpnkit) connect, or connect to the VM ourselves (`hyperv-connect://`, or any transport
 * with `mode: 'connect'`) and keep reconnecting whenever the link drops. Either way each stream
 * runs the vmnet server handshake and becomes one NIC of the network.
 * @module
 */
import type { Duplex } from 'node:stream';
import { errAsync, okAsync, type ResultAsync } from 'neverthrow';
import type { Scheduler } from '../../src/runtime/scheduler.js';
import { Timer } from '../../src/runtime/scheduler.js';
import type { VnetError } from '../../src/errors.js';
import type { Nic } from '../../src/nic.js';
import type { HvsockError } from './errors.js';
import { AnyVsockProvider, type VsockProvider } from './provider.js';
import { formatVsockUri, parseVsockUri, type VsockAddress } from './uri.js';

/** What a network must offer to take vmnet NICs (a `VirtualNetwork` does). */
export interface VmnetAcceptor {
  acceptVmnet(stream: Duplex, label: string): ResultAsync<Nic, VnetError>;
  readonly runtime: { readonly scheduler: Scheduler };
}

/** Options of {@link serveEthernet}. */
export interface ServeEthernetOptions {
  /** Who connects; default: the URI's own mode (`hyperv-connect://` → connect), else listen. */
  readonly mode?: 'listen' | 'connect';
  /** Transport implementations (default {@link AnyVsockProvider}). */
  readonly provider?: VsockProvider;
  /** Pause before reconnecting after a failure or a dropped link, ms (vpnkit sleeps 1 s). */
  readonly retryMs?: number;
  /** Receives one line per connection event. */
  readonly log?: (line: string) => void;
}

/**
 * A running Ethernet service. `close()` stops listening (attached NICs stay) or, in connect mode,
 * stops reconnecting and drops the link it holds.
 */
export interface EthernetService {
  readonly uri: string;
  readonly mode: 'listen' | 'connect';
  /** NICs attached so far through this service. */
  readonly attached: number;
  close(): Promise<void>;
}

/** Serves the vmnet protocol at `uri` (see `parseVsockUri` for the schemes) into `net`. */
export function serveEthernet(net: VmnetAcceptor, uri: string, options: ServeEthernetOptions = {}): ResultAsync<EthernetService, HvsockError> {
  const parsed = parseVsockUri(uri);
  if (parsed.isErr()) return errAsync(parsed.error);
  const mode = options.mode ?? parsed.value.mode ?? 'listen';
  const provider = options.provider ?? new AnyVsockProvider();
  const log = options.log ?? (() => {});
  const address = parsed.value.address;
  const label = `vmnet:${formatVsockUri(address, mode)}`;
  return mode === 'listen' ? listen(net, provider, address, label, uri, log) : okAsync(connectLoop(net, provider, address, label, uri, options.retryMs ?? 1000, log));
}

function listen(net: VmnetAcceptor, provider: VsockProvider, address: VsockAddress, label: string, uri: string, log: (l: string) => void): ResultAsync<EthernetService, HvsockError> {
  return provider.listen(address).map((listener) => {
    let attached = 0;
    listener.on('connection', (stream) => {
      void net.acceptVmnet(stream, label).map(() => attached++);
    });
    listener.on('error', (e) => log(`${label}: ${e.message}`));
    return {
      uri,
      mode: 'listen' as const,
      get attached() {
        return attached;
      },
      close: () => listener.close(),
    };
  });
}

/** Connects, runs the handshake, and reconnects after `retryMs` whenever the link is lost. */
function connectLoop(net: VmnetAcceptor, provider: VsockProvider, address: VsockAddress, label: string, uri: string, retryMs: number, log: (l: string) => void): EthernetService {
  const scheduler = net.runtime.scheduler;
  let stopped = false;
  let attached = 0;
  let current: Duplex | undefined;
  const retry = new Timer(() => attempt());
  const later = (why: string): void => {
    if (stopped) return;
    log(`${label}: ${why}; retrying in ${retryMs} ms`);
    scheduler.armIn(retry, retryMs);
  };
  const attempt = (): void => {
    if (stopped) return;
    void provider.connect(address).match(
      (stream) => {
        if (stopped) return void stream.destroy();
        current = stream;
        stream.once('close', () => {
          current = undefined;
          later('link closed');
        });
        void net.acceptVmnet(stream, label).map(() => attached++);
      },
      (e) => later(e.message),
    );
  };
  attempt();
  return {
    uri,
    mode: 'connect',
    get attached() {
      return attached;
    },
    close: async () => {
      stopped = true;
      scheduler.disarm(retry);
      current?.destroy();
    },
  };
}
