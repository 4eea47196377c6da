#!/usr/bin/env node
/**
 * The `vnetkit` command. Subcommands: `serve` (cli.md). Exit codes: 0 clean shutdown, 1 runtime
 * failure (a socket could not be bound), 2 bad command line.
 * @module
 */
import { parseServeFlags } from './flags.js';
import { serve } from './serve.js';

const USAGE = `usage: vnetkit serve (--qemu PATH | --ethernet PATH|URI | --ethernet-connect URI)... [options]
  --qemu PATH               listen for QEMU -netdev stream clients (repeatable)
  --ethernet PATH|URI       listen for HyperKit virtio-vpnkit clients (repeatable); a URI
                            (vsock://:PORT, hybrid-vsock://:PORT/UDS, hyperkit://:PORT/DIR,
                            hyperv-listen://VM/SERVICE, hyperv-connect://VM) serves vmnet over vsock
  --ethernet-connect URI    dial the VM's agent over vsock and serve vmnet on it (repeatable)
  --subnet CIDR  --gateway-ip IP  --host-ip IP  --no-host-loopback
  --lowest-ip IP  --highest-ip IP  --reserve MAC|UUID=IP  --leases FILE
  --dns-upstream IP[:PORT]  --domain NAME  --search DOMAIN  --host-names A,B  --gateway-names A,B
  --host-resolver | --no-host-resolver   A/AAAA from the host's resolver (default: macOS/Windows only)
  --no-preserve-client-address   exposed ports: the guest sees the gateway, not each client's address
  --no-icmp-forwarding      drop guests' pings to other addresses instead of using host ping sockets
  --tcp-idle-timeout SECONDS   close idle guest TCP flows (default: never)
  --max-connections N  --max-udp-flows N  --new-flows-per-second N   limits on guest flows
  --allow CIDR  --deny CIDR
  --expose [HOSTIP:]HOSTPORT:GUESTIP:GUESTPORT[/tcp|/udp]  --control PATH
  --condition SELECTOR:SETTINGS   e.g. '*:latency=100ms,loss=1%,rate=50mbit' (SELECTOR: *, MAC, UUID)
  --host-interface NAME=IP/PREFIX[,mac=MAC][,mtu=N]  --host-route 'CIDR via IP'   (Linux, CAP_NET_ADMIN)
  --mtu N  --egress-mtu N  --pcap FILE  --json  --log-level error|warn|info|debug
  --events flow,dns         also print guest flows and DNS queries as JSON lines
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'serve' && rest.some((a) => a === '-h' || a === '--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd !== 'serve') {
    process.stderr.write(`vnetkit: unknown command: ${cmd}\n${USAGE}`);
    return 2;
  }
  const cfg = parseServeFlags(rest);
  if (cfg.isErr()) {
    process.stderr.write(`vnetkit: ${cfg.error.message}\n`);
    return 2;
  }
  return serve(cfg.value, {
    out: process.stdout,
    err: process.stderr,
    onSignal: (h) => {
      process.once('SIGINT', () => h('SIGINT'));
      process.once('SIGTERM', () => h('SIGTERM'));
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Stop anything still holding the loop (an idle socket a guest never closed).
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`vnetkit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
