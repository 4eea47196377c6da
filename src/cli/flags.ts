/**
 * `vnetkit serve` flags (cli.md) → network options and serve settings. Every bad flag yields one
 * typed error whose message names the flag; nothing here touches the system.
 * @module
 */
import { parseArgs } from 'node:util';
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../errors.js';
import { isLogLevel, type LogLevel } from '../logger.js';
import type { NetworkOptions, Reservation } from '../options.js';
import { parseConditionSpec, type ConditionRule } from '../switch/condition-flag.js';
import { parseEventGroups, type EventGroup } from '../control/event-routes.js';
import { HOST_INTERFACE_FLAG_OPTIONS, hostInterfaceFromFlags, type HostInterfaceSpec } from '../host-interface/index.js';

/** A parsed `--expose [HOSTIP:]HOSTPORT:GUESTIP:GUESTPORT[/tcp|/udp]`. */
export interface ExposeSpec {
  hostIp: string;
  hostPort: number;
  guestIp: string;
  guestPort: number;
  protocol: 'tcp' | 'udp';
}

/** What `serve` should do. */
export interface ServeConfig {
  network: NetworkOptions;
  qemu: string[];
  ethernet: string[];
  /** vsock URIs to dial (vpnkit's hyperv-connect direction) and serve vmnet on. */
  ethernetConnect: string[];
  expose: ExposeSpec[];
  control: string | undefined;
  /** `--host-interface NAME=IP/PREFIX` with its `--host-route`s. */
  hostInterface: HostInterfaceSpec | undefined;
  /** Extra event groups printed as JSON lines (`--events flow,dns`). */
  events: EventGroup[];
  /** `--condition SELECTOR:SETTINGS` rules, applied to matching NICs as they attach. */
  conditions: ConditionRule[];
  json: boolean;
  logLevel: LogLevel;
}

/** A bad command line. */
export type FlagError = VnetError<'bad-flag'> & { flag: string };

const badFlag = (flag: string, message: string): Result<never, FlagError> => err(vnetError('bad-flag', `${flag}: ${message}`, { flag }));

const options = {
  qemu: { type: 'string', multiple: true },
  ethernet: { type: 'string', multiple: true },
  'ethernet-connect': { type: 'string', multiple: true },
  subnet: { type: 'string' },
  'gateway-ip': { type: 'string' },
  'host-ip': { type: 'string' },
  'no-host-loopback': { type: 'boolean' },
  'lowest-ip': { type: 'string' },
  'highest-ip': { type: 'string' },
  reserve: { type: 'string', multiple: true },
  leases: { type: 'string' },
  'dns-upstream': { type: 'string', multiple: true },
  domain: { type: 'string' },
  search: { type: 'string', multiple: true },
  'host-names': { type: 'string' },
  'gateway-names': { type: 'string' },
  'host-resolver': { type: 'boolean' },
  'no-icmp-forwarding': { type: 'boolean' },
  'no-preserve-client-address': { type: 'boolean' },
  events: { type: 'string' },
  'max-connections': { type: 'string' },
  'max-udp-flows': { type: 'string' },
  'new-flows-per-second': { type: 'string' },
  'tcp-idle-timeout': { type: 'string' },
  'no-host-resolver': { type: 'boolean' },
  allow: { type: 'string', multiple: true },
  deny: { type: 'string', multiple: true },
  expose: { type: 'string', multiple: true },
  control: { type: 'string' },
  condition: { type: 'string', multiple: true },
  ...HOST_INTERFACE_FLAG_OPTIONS,
  mtu: { type: 'string' },
  'egress-mtu': { type: 'string' },
  pcap: { type: 'string' },
  json: { type: 'boolean' },
  'log-level': { type: 'string' },
} as const;

/** Parses one `--expose` value. */
export function parseExpose(s: string): Result<ExposeSpec, FlagError> {
  const m = /^(?:(\d+\.\d+\.\d+\.\d+|localhost|\[[0-9a-fA-F:]+\]):)?(\d+):(\d+\.\d+\.\d+\.\d+):(\d+)(?:\/(tcp|udp))?$/.exec(s);
  if (m === null) return badFlag('--expose', `expected [HOSTIP:]HOSTPORT:GUESTIP:GUESTPORT[/tcp|/udp], got ${s}`);
  const hostPort = Number(m[2]);
  const guestPort = Number(m[4]);
  if (hostPort > 65535) return badFlag('--expose', `host port out of range in ${s}`);
  if (guestPort < 1 || guestPort > 65535) return badFlag('--expose', `guest port out of range in ${s}`);
  const hostIp = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return ok({ hostIp, hostPort, guestIp: m[3]!, guestPort, protocol: (m[5] as 'tcp' | 'udp' | undefined) ?? 'tcp' });
}

/** Parses one `--reserve KEY=IP` value (KEY is a MAC or a UUID). */
export function parseReserve(s: string): Result<Reservation, FlagError> {
  const eq = s.lastIndexOf('=');
  if (eq < 0) return badFlag('--reserve', `expected MAC=IP or UUID=IP, got ${s}`);
  const key = s.slice(0, eq);
  const ip = s.slice(eq + 1);
  if (/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(key)) return ok({ mac: key, ip });
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key)) return ok({ uuid: key, ip });
  return badFlag('--reserve', `key must be a MAC or a UUID, got ${key}`);
}

/** Parses `serve`'s arguments (without the `serve` word). */
export function parseServeFlags(argv: string[]): Result<ServeConfig, FlagError> {
  let v;
  try {
    v = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const flag = /'(-{1,2}[^' ]+)/.exec(msg)?.[1] ?? 'arguments';
    // Node's text may run on for lines of advice ("Did you forget…"): one line, naming the flag.
    return badFlag(flag, msg.split('\n')[0]!.replace(/\. To specify.*$/s, '').trim());
  }
  const network: NetworkOptions = {};
  if (v.subnet !== undefined) network.subnet = v.subnet;
  if (v['gateway-ip'] !== undefined) network.gatewayIp = v['gateway-ip'];
  if (v['host-ip'] !== undefined && v['no-host-loopback']) return badFlag('--no-host-loopback', 'give --host-ip or --no-host-loopback, not both');
  if (v['host-ip'] !== undefined) network.hostIp = v['host-ip'];
  if (v['no-host-loopback']) network.hostIp = false;
  if (v['lowest-ip'] !== undefined) network.lowestIp = v['lowest-ip'];
  if (v['highest-ip'] !== undefined) network.highestIp = v['highest-ip'];
  if (v.leases !== undefined) network.leasesFile = v.leases;
  if (v['dns-upstream'] !== undefined) network.dnsUpstreams = v['dns-upstream'];
  if (v.domain !== undefined) network.domain = v.domain;
  if (v.search !== undefined) network.searchDomains = v.search;
  if (v['host-resolver'] && v['no-host-resolver']) return badFlag('--host-resolver', 'give --host-resolver or --no-host-resolver, not both');
  if (v['no-icmp-forwarding']) network.icmpForwarding = false;
  if (v['no-preserve-client-address']) network.preserveClientAddress = false;
  for (const [flag, key] of [['max-connections', 'maxTcpFlows'], ['max-udp-flows', 'maxUdpFlows'], ['new-flows-per-second', 'newFlowsPerSecond']] as const) {
    const val = v[flag];
    if (val === undefined) continue;
    if (!/^\d+$/.test(val) || Number(val) < 1) return badFlag(`--${flag}`, `expected a positive integer, got ${val}`);
    network[key] = Number(val);
  }
  if (v['tcp-idle-timeout'] !== undefined) {
    if (!/^\d+$/.test(v['tcp-idle-timeout'])) return badFlag('--tcp-idle-timeout', `expected whole seconds, got ${v['tcp-idle-timeout']}`);
    network.tcpIdleTimeoutMs = Number(v['tcp-idle-timeout']) * 1000;
  }
  if (v['host-resolver']) network.hostResolver = true;
  if (v['no-host-resolver']) network.hostResolver = false;
  // Comma lists, as vpnkit's --host-names / --gateway-names (protocols.md §4.12).
  if (v['host-names'] !== undefined) network.hostNames = v['host-names'].split(',').filter((x) => x !== '');
  if (v['gateway-names'] !== undefined) network.gatewayNames = v['gateway-names'].split(',').filter((x) => x !== '');
  if (v.allow !== undefined) network.allow = v.allow;
  if (v.deny !== undefined) network.deny = v.deny;
  if (v.pcap !== undefined) network.pcap = v.pcap;
  if (v.mtu !== undefined) {
    if (!/^\d+$/.test(v.mtu)) return badFlag('--mtu', `not a number: ${v.mtu}`);
    network.mtu = Number(v.mtu);
  }
  if (v['egress-mtu'] !== undefined) {
    if (!/^\d+$/.test(v['egress-mtu'])) return badFlag('--egress-mtu', `not a number: ${v['egress-mtu']}`);
    network.egressMtu = Number(v['egress-mtu']);
  }
  const reservations: Reservation[] = [];
  for (const r of v.reserve ?? []) {
    const p = parseReserve(r);
    if (p.isErr()) return err(p.error);
    reservations.push(p.value);
  }
  if (reservations.length > 0) network.reservations = reservations;
  const expose: ExposeSpec[] = [];
  for (const e of v.expose ?? []) {
    const p = parseExpose(e);
    if (p.isErr()) return err(p.error);
    expose.push(p.value);
  }
  const conditions: ConditionRule[] = [];
  for (const c of v.condition ?? []) {
    const p = parseConditionSpec(c);
    if (p.isErr()) return err(p.error);
    conditions.push(p.value);
  }
  let events: EventGroup[] = [];
  if (v.events !== undefined) {
    const g = parseEventGroups(v.events);
    if (typeof g === 'string') return badFlag('--events', g);
    events = g;
  }
  const hi = hostInterfaceFromFlags(v['host-interface'], v['host-route']);
  if (hi.isErr()) return err(hi.error);
  const logLevel = v['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) return badFlag('--log-level', `expected error, warn, info or debug, got ${logLevel}`);
  const qemu = v.qemu ?? [];
  const ethernet = v.ethernet ?? [];
  const ethernetConnect = v['ethernet-connect'] ?? [];
  if (qemu.length === 0 && ethernet.length === 0 && ethernetConnect.length === 0)
    return badFlag('--qemu', 'give at least one --qemu PATH, --ethernet PATH|URI or --ethernet-connect URI');
  return ok({ network, qemu, ethernet, ethernetConnect, expose, control: v.control, conditions, events, hostInterface: hi.value, json: v.json ?? false, logLevel });
}
