/**
 * A VirtualNetwork for VM tests, with the network-safety rules built in: egress only to
 * 127.0.0.0/8, and DNS forwarded only to a resolver the test started on 127.0.0.1 (never the
 * host's). It listens for QEMU on a socket in a short temp directory (Unix socket paths are at
 * most 107 bytes, vmlab pitfall 10). Everything is closed by `runCleanups()`.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Answer } from 'dns-packet';
import type { VirtualNetworkEvents } from '../../../src/events.js';
import type { NetworkOptions } from '../../../src/options.js';
import { VirtualNetwork } from '../../../src/virtual-network.js';
import { startTestResolver, type TestResolver } from '../../harness/dns/test-resolver.js';
import { deferCleanup } from './cleanup.js';

/** A short temp directory, removed by `runCleanups()`. */
export async function makeTestDir(): Promise<string> {
  const dir = await mkdtemp('/tmp/vkvm-');
  deferCleanup(`temp dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A test resolver on 127.0.0.1, closed by `runCleanups()`. */
export async function startResolver(records: Answer[] = []): Promise<TestResolver> {
  const r = await startTestResolver({ records });
  deferCleanup('test resolver', () => r.close());
  return r;
}

/** Network options a test may choose; egress and DNS upstreams are fixed by the helper. */
export type TestNetworkOptions = Omit<NetworkOptions, 'allow' | 'dnsUpstreams' | 'resolvConfPath'>;

/** A network listening for QEMU, and what it has reported. */
export interface TestNetwork {
  readonly net: VirtualNetwork;
  /** The `listenQemu` socket. */
  readonly socketPath: string;
  readonly resolver: TestResolver;
  /** Every event so far, in order (for assertions and failure messages). */
  readonly events: Array<{ name: keyof VirtualNetworkEvents; data: unknown }>;
  /** Closes the network (idempotent). */
  close(): Promise<void>;
}

/**
 * Creates a network and listens on `<dir>/<name>.sock`. `resolver` is the only DNS upstream; the
 * same directory and socket name can be used again after `close()` to "restart" the network.
 */
export async function startTestNetwork(
  dir: string,
  resolver: TestResolver,
  options: TestNetworkOptions = {},
  name = 'qemu',
): Promise<TestNetwork> {
  const created = VirtualNetwork.create({
    ...options,
    allow: ['127.0.0.0/8'],
    dnsUpstreams: [`${resolver.address}:${resolver.port}`],
  });
  if (created.isErr()) throw new Error(`VirtualNetwork.create: ${created.error.message}`);
  const net = created.value;
  const close = (): Promise<void> => net.close();
  deferCleanup('virtual network', close);
  const events: TestNetwork['events'] = [];
  for (const name of ['nic-attached', 'nic-detached', 'lease', 'release', 'error'] as const) {
    net.on(name, (data: unknown) => events.push({ name, data }));
  }
  const socketPath = join(dir, `${name}.sock`);
  const listening = await net.listenQemu(socketPath);
  if (listening.isErr()) throw new Error(`listenQemu ${socketPath}: ${listening.error.message}`);
  return { net, socketPath, resolver, events, close };
}

/**
 * Resolves with the next `event` whose payload satisfies `pred`. Subscribe before the action that
 * causes it; a timeout (generous: VMs are slow under TCG) fails with what was awaited.
 */
export function nextEvent<K extends keyof VirtualNetworkEvents>(
  net: VirtualNetwork,
  event: K,
  pred: (e: Parameters<VirtualNetworkEvents[K]>[0]) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<Parameters<VirtualNetworkEvents[K]>[0]> {
  type Payload = Parameters<VirtualNetworkEvents[K]>[0];
  return new Promise<Payload>((resolve, reject) => {
    const timer = setTimeout(() => {
      net.off(event, listener as never);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (e: Payload): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      net.off(event, listener as never);
      resolve(e);
    };
    net.on(event, listener as never);
  });
}
