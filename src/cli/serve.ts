/**
 * `vnetkit serve`: one VirtualNetwork in the foreground until SIGINT/SIGTERM (cli.md). Prints a
 * line containing `ready` once every listener is bound; with `--json`, events as JSON lines.
 * @module
 */
import { serveEthernet } from '../../adapters/hvsock/ethernet.js';
import { streamLogger } from '../logger.js';
import { keepProcessAlive } from '../runtime/keep-alive.js';
import { selectsNic, type ConditionRule } from '../switch/condition-flag.js';
import { subscribeEvents } from '../control/event-routes.js';
import { parseMac } from '../wire/address.js';
import { VirtualNetwork } from '../virtual-network.js';
import type { ServeConfig } from './flags.js';

/** The command-line flag behind each network option, for error messages. */
const FLAG_OF_OPTION: Record<string, string> = {
  subnet: '--subnet',
  gatewayIp: '--gateway-ip',
  hostIp: '--host-ip',
  lowestIp: '--lowest-ip',
  highestIp: '--highest-ip',
  mtu: '--mtu',
  egressMtu: '--egress-mtu',
  dnsUpstreams: '--dns-upstream',
  domain: '--domain',
  searchDomains: '--search',
  hostNames: '--host-names',
  gatewayNames: '--gateway-names',
  reservations: '--reserve',
  leasesFile: '--leases',
  allow: '--allow',
  deny: '--deny',
  pcap: '--pcap',
  hostResolver: '--host-resolver',
  tcpIdleTimeoutMs: '--tcp-idle-timeout',
  hostLoopback: '--no-host-loopback',
  maxTcpFlows: '--max-connections',
  maxUdpFlows: '--max-udp-flows',
  newFlowsPerSecond: '--new-flows-per-second',
};

/** Output streams and process hooks, injectable for tests. */
export interface ServeIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Registers a handler for termination signals. */
  onSignal: (handler: (signal: string) => void) => void;
}

/** Runs `serve` until a signal; resolves with the exit code. */
export async function serve(cfg: ServeConfig, io: ServeIo): Promise<number> {
  const logger = streamLogger(cfg.logLevel, io.err);
  const created = VirtualNetwork.create({ ...cfg.network, logger });
  if (created.isErr()) {
    // Name the flag the user typed, not the option field behind it (cli.md: bad flags are named).
    const e = created.error;
    const flag = 'option' in e ? FLAG_OF_OPTION[String((e as { option: unknown }).option)] : undefined;
    io.err.write(`vnetkit: ${flag !== undefined ? `${flag}: ${e.message.replace(/^[\w]+: /, '')}` : e.message}\n`);
    return 2;
  }
  const net = created.value;
  const emit = (event: string, data: object): void => {
    if (cfg.json) io.out.write(`${JSON.stringify({ event, ...data })}\n`);
  };
  net.on('nic-attached', (e) => {
    emit('nic-attached', e);
    applyConditions(e.id, e.mac, e.uuid);
  });
  // A QEMU NIC's MAC is known only from its traffic: MAC rules apply once DHCP sees it.
  net.on('lease', (e) => {
    const id = net.switch.portIdOf(parseMac(e.mac) ?? -1);
    if (id >= 0) applyConditions(id, e.mac, e.uuid, true);
  });
  const applied = new Map<number, Set<ConditionRule>>();
  function applyConditions(id: number, mac: string | undefined, uuid: string | undefined, macOnly = false): void {
    const nic = net.nic(id);
    if (nic === undefined) return;
    const done = applied.get(id) ?? new Set<ConditionRule>();
    applied.set(id, done);
    for (const rule of cfg.conditions) {
      if ((macOnly && rule.selector.kind !== 'mac') || done.has(rule) || !selectsNic(rule.selector, { mac, uuid })) continue;
      done.add(rule);
      const r = nic.condition(rule.spec);
      if (r.isErr()) logger.warn(`--condition on ${nic.name}: ${r.error.message}`);
      else logger.info(`conditioning ${nic.name}: ${JSON.stringify(rule.spec)}`);
    }
  }
  net.on('nic-detached', (e) => {
    applied.delete(e.id);
    emit('nic-detached', e);
  });
  net.on('lease', (e) => emit('lease', e));
  net.on('release', (e) => emit('release', e));
  net.on('error', (e) => {
    emit('error', { kind: e.kind, message: e.message });
    if (!cfg.json) logger.error(e.message);
  });

  // --events flow,dns: the opt-in event groups as JSON lines (whatever --json says).
  const unsubscribe = subscribeEvents(net, cfg.events.filter((g) => g === 'flow' || g === 'dns'), (line) => io.out.write(`${JSON.stringify(line)}\n`));
  const fail = async (message: string, code = 1): Promise<number> => {
    io.err.write(`vnetkit: ${message}\n`);
    await net.close();
    return code;
  };
  for (const p of cfg.qemu) {
    const r = await net.listenQemu(p);
    if (r.isErr()) return fail(r.error.message);
  }
  const ethernet: Array<{ close(): Promise<void> }> = [];
  for (const p of cfg.ethernet) {
    // A plain path is HyperKit's Unix socket; a URI (vsock://, hyperv-connect://, hybrid-vsock://,
    // hyperkit://) is the same vmnet protocol over a vsock transport (protocols.md §2.2).
    if (!/^[a-z][a-z0-9+.-]*:/i.test(p)) {
      const r = await net.listenHyperkit(p);
      if (r.isErr()) return fail(r.error.message);
      continue;
    }
    const r = await serveEthernet(net, p, { log: (l) => logger.info(l) });
    if (r.isErr()) return fail(`--ethernet ${p}: ${r.error.message}`);
    ethernet.push(r.value);
  }
  for (const p of cfg.ethernetConnect) {
    const r = await serveEthernet(net, p, { mode: 'connect', log: (l) => logger.info(l) });
    if (r.isErr()) return fail(`--ethernet-connect ${p}: ${r.error.message}`);
    ethernet.push(r.value);
  }
  for (const e of cfg.expose) {
    const r = await net.exposePort({ guest: e.guestIp, guestPort: e.guestPort, hostIp: e.hostIp, hostPort: e.hostPort, protocol: e.protocol });
    if (r.isErr()) {
      const host = e.hostIp.includes(':') ? `[${e.hostIp}]` : e.hostIp;
      const flag = `--expose ${host}:${e.hostPort}:${e.guestIp}:${e.guestPort}/${e.protocol}`;
      // An address that can never work is a bad command line (2); a port in use is a runtime failure (1).
      const usage = r.error.kind === 'bad-address' || r.error.kind === 'not-a-guest';
      const why = r.error.message.replace(/^(expose: |\S+\/(tcp|udp|unix): )/, '');
      return fail(`${flag}: ${why}`, usage ? 2 : 1);
    }
  }
  if (cfg.hostInterface !== undefined) {
    const r = await net.attachHostInterface(cfg.hostInterface);
    if (r.isErr()) return fail(`--host-interface: ${r.error.message}`);
  }
  if (cfg.control !== undefined) {
    const r = await net.serveControl(cfg.control);
    if (r.isErr()) return fail(r.error.message);
  }

  const sockets = { qemu: cfg.qemu, ethernet: [...cfg.ethernet, ...cfg.ethernetConnect], ...(cfg.control !== undefined ? { control: cfg.control } : {}) };
  if (cfg.json) emit('ready', sockets);
  else io.out.write(`vnetkit ready: gateway ${net.gatewayAddress}, serving ${[...cfg.qemu, ...cfg.ethernet, ...cfg.ethernetConnect].join(', ')}\n`);

  // Hold the process open even when nothing else does (e.g. only --ethernet-connect dialling).
  const release = keepProcessAlive();
  const signal = await new Promise<string>((resolve) => io.onSignal(resolve));
  release();
  logger.info(`${signal}: shutting down`);
  for (const e of ethernet) await e.close();
  await net.close();
  unsubscribe();
  emit('stopped', { signal });
  return 0;
}
