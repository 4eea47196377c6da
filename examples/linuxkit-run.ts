/**
 * `linuxkit run`, with vnetkit as the network: boots one VM (QEMU on Linux, HyperKit on macOS),
 * prints its DHCP lease, exposes its port 80 on host 127.0.0.1, fetches it, and shuts everything
 * down — also on Ctrl-C (SIGINT) or SIGTERM at any point.
 *
 *   node --import tsx examples/linuxkit-run.ts                       # Linux: vnetkit's test guest
 *   node --import tsx examples/linuxkit-run.ts --prefix ./linuxkit   # linuxkit-kernel, -initrd.img, -cmdline
 *
 * Options: --prefix P, --ip IP (fixed address), --mac MAC (QEMU), --host-port N (default: any
 * free port), --dns-upstream IP[:PORT] and --allow CIDR (repeatable; passed to the network),
 * --keep (stay up after the fetch until Ctrl-C), --console (guest console to stderr),
 * --timeout SECONDS (for the lease and the fetch; default 120).
 * Output lines start with a fixed word (`vm:`, `lease:`, `exposed:`, `fetched:`, `stopped`) so
 * scripts and the e2e test can read them. Exit: 0 clean shutdown, 1 failure, 2 bad usage.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VirtualNetwork, streamLogger, type ExposeHandle, type LeaseEvent } from '../src/index.js';
import { launchVm, type LaunchedVm } from './vm-launch.js';

const USAGE = 'usage: linuxkit-run.ts [--prefix P] [--ip IP] [--mac MAC] [--host-port N] [--dns-upstream IP[:PORT]]... [--allow CIDR]... [--keep] [--console] [--timeout SECONDS]';

/** Rejects when `signal` aborts (Ctrl-C), so every wait below can be interrupted. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new Error('interrupted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** GET once; resolves with the status and the first line of the body. */
function fetchOnce(port: number): Promise<{ status: number; firstLine: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, firstLine: body.split('\n')[0] ?? '' }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
  });
}

async function run(signal: AbortSignal): Promise<number> {
  const parsed = (() => {
    try {
      return parseArgs({
        options: {
          prefix: { type: 'string' },
          ip: { type: 'string' },
          mac: { type: 'string', default: '52:54:00:12:34:56' },
          'host-port': { type: 'string', default: '0' },
          'dns-upstream': { type: 'string', multiple: true },
          allow: { type: 'string', multiple: true },
          keep: { type: 'boolean', default: false },
          console: { type: 'boolean', default: false },
          timeout: { type: 'string', default: '120' },
        },
      }).values;
    } catch (e) {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${USAGE}\n`);
      return undefined;
    }
  })();
  if (parsed === undefined) return 2;
  const hostPort = Number(parsed['host-port']);
  const timeoutMs = Number(parsed.timeout) * 1000;
  if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535 || !(timeoutMs > 0)) {
    process.stderr.write(`--host-port must be 0..65535 and --timeout positive\n${USAGE}\n`);
    return 2;
  }

  const created = VirtualNetwork.create({
    logger: streamLogger('warn'),
    ...(parsed['dns-upstream'] ? { dnsUpstreams: parsed['dns-upstream'] } : {}),
    ...(parsed.allow ? { allow: parsed.allow } : {}),
  });
  if (created.isErr()) {
    process.stderr.write(`network: ${created.error.message}\n`);
    return 2;
  }
  const net = created.value;
  net.on('error', (e) => process.stderr.write(`network error: ${e.message}\n`));
  const socketDir = await mkdtemp(join(tmpdir(), 'vnetkit-run-'));
  let vm: LaunchedVm | undefined;
  let exposed: ExposeHandle | undefined;
  let code = 0;
  try {
    // Subscribe before the VM starts: its first lease can come within a second.
    const leases: LeaseEvent[] = [];
    let onLease: (() => void) | undefined;
    net.on('lease', (l) => {
      leases.push(l);
      onLease?.();
    });
    vm = await abortable(launchVm(net, { ...(parsed.prefix ? { prefix: parsed.prefix } : {}), ...(parsed.ip ? { ip: parsed.ip } : {}), mac: parsed.mac!, socketDir, console: parsed.console! }), signal);
    console.log(`vm: ${vm.description}`);
    const running = vm;
    const lease = await abortable(
      new Promise<LeaseEvent>((resolve, reject) => {
        const check = (): void => {
          const l = leases.find((x) => running.owns(x));
          if (l !== undefined) resolve(l);
        };
        onLease = check;
        check();
        void running.exited.then(() => reject(new Error('the VM exited before it got a lease')));
        setTimeout(() => reject(new Error(`no lease within ${timeoutMs / 1000} s`)), timeoutMs).unref();
      }),
      signal,
    );
    console.log(`lease: ${lease.ip} mac ${lease.mac}${lease.uuid ? ` uuid ${lease.uuid}` : ''}${lease.hostname ? ` hostname ${lease.hostname}` : ''}`);

    const r = await net.exposePort({ guest: lease.ip, guestPort: 80, hostIp: '127.0.0.1', hostPort });
    if (r.isErr()) throw new Error(`expose port 80: ${r.error.message}`);
    exposed = r.value;
    const port = r.value.hostPort!; // a TCP port always has one (hostPort 0 resolved to the port bound)
    console.log(`exposed: http://127.0.0.1:${port}/ -> ${lease.ip}:80`);

    // The guest's web server may start after its lease: retry until it answers or time runs out.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const page = await abortable(fetchOnce(port), signal);
        console.log(`fetched: ${page.status} ${page.firstLine}`);
        break;
      } catch (e) {
        if (signal.aborted || Date.now() > deadline) throw e;
        await abortable(sleep(500), signal);
      }
    }
    if (parsed.keep) {
      console.log('running: Ctrl-C stops the VM and the network');
      await abortable(running.exited, signal);
      console.log('vm: exited by itself');
    }
  } catch (e) {
    if (!signal.aborted) {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      code = 1;
    }
  } finally {
    if (signal.aborted) console.log('interrupted: shutting down');
    await exposed?.close();
    await vm?.stop();
    await net.close();
    await rm(socketDir, { recursive: true, force: true });
    console.log(`stopped${code === 0 ? ' cleanly' : ''}`);
  }
  return code;
}

const controller = new AbortController();
// `on`, not `once`: execa (which runs the hypervisor) re-raises a signal once no other listener is
// left, which would kill this process in the middle of its clean shutdown. A second Ctrl-C forces.
const onSignal = (): void => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
run(controller.signal).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
