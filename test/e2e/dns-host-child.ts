/**
 * The vnetkit side of `dns-host.test.ts`. That test runs this script inside
 * `unshare --mount --net` after bind-mounting its own hosts file over /etc/hosts and
 * `hosts: files` over /etc/nsswitch.conf, so in here:
 * - getaddrinfo sees only the test's names and never asks a DNS server (nothing leaves the box);
 * - the network namespace is private, so the test resolvers can all listen on port 53 (resolv.conf
 *   has no port syntax) at 127.0.0.2, 127.0.0.3, … without touching the host's loopback.
 * The guest (an `ip netns` namespace) reaches the network through the QEMU socket, a path in the
 * shared file system.
 *
 * argv[2]: a JSON {@link ChildConfig}. stdout: JSON lines — `ready`, `dns-query` (every reply),
 * `upstream-query` (every query a test resolver received), `log`, `stats`. stdin: `stats` lines.
 * SIGTERM: close everything and exit 0.
 */
import { createInterface } from 'node:readline';
import type { Answer } from 'dns-packet';
import type { Logger } from '../../src/logger.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { startTestResolver, type TestResolver } from '../harness/dns/test-resolver.js';

/** What the parent test asks for. */
export interface ChildConfig {
  /** QEMU stream socket to listen on. */
  readonly socket: string;
  /** The resolv.conf the DNS service follows (the test rewrites it). */
  readonly resolvConf: string;
  /** Host-resolver mode on or off. */
  readonly hostResolver: boolean;
  /** Test resolvers to start on port 53 of these loopback addresses. */
  readonly resolvers: readonly { readonly address: string; readonly records: Answer[] }[];
}

const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]!) as ChildConfig;
  const resolvers: TestResolver[] = [];
  for (const r of cfg.resolvers) {
    resolvers.push(
      await startTestResolver({
        address: r.address,
        port: 53,
        records: r.records,
        handler: (q, transport) => {
          const question = q.questions?.[0];
          out({ event: 'upstream-query', resolver: r.address, name: question?.name, type: question?.type, transport });
          return undefined;
        },
      }),
    );
  }
  const line = (level: string) => (message: string) => out({ event: 'log', level, message });
  const logger: Logger = { error: line('error'), warn: line('warn'), info: line('info'), debug: () => {} };
  const created = VirtualNetwork.create({ resolvConfPath: cfg.resolvConf, logger, hostResolver: cfg.hostResolver });
  if (created.isErr()) throw new Error(created.error.message);
  const net = created.value;
  const dns = net.dns;
  // The facade's opt-in event: the DNS server builds events only while someone listens.
  net.on('dns-query', (e) => out({ event: 'dns-query', ...e }));
  const listening = await net.listenQemu(cfg.socket);
  if (listening.isErr()) throw new Error(listening.error.message);
  out({ event: 'ready', mode: dns.mode, describe: dns.describe() });

  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() === 'stats') out({ event: 'stats', stats: dns.stats() });
  });
  process.once('SIGTERM', () => {
    void (async () => {
      await net.close();
      await Promise.all(resolvers.map((r) => r.close()));
      process.exit(0);
    })();
  });
}

main().catch((e: unknown) => {
  out({ event: 'fatal', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
});
