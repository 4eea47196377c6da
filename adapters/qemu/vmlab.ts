/**
 * The vmlab test guest's console protocol: every step of its `/init` prints one marker line
 * `VMLAB <event> uptime=<s> key=value …`, with the free-text values (`body=`, `err=`, `what=`)
 * last so they may contain spaces (vmlab README, "Console markers"; guest/init `mark`).
 * This module parses those lines and builds the `vmlab.*` kernel options the guest reads.
 * @module
 */
import type { ResultAsync } from 'neverthrow';
import type { ConsoleWaitError, QemuVm } from './launch.js';

/** One parsed marker line. */
export interface VmlabMarker {
  /** `init`, `link-up`, `lease-acquired`, `error`, … */
  readonly event: string;
  /** Guest seconds since boot, or null if the line had none. */
  readonly uptime: number | null;
  /** The other `key=value` pairs, in order of appearance. */
  readonly fields: Readonly<Record<string, string>>;
}

/** Keys whose value runs to the end of the line (the guest prints them last). */
export const VMLAB_FREE_TEXT_KEYS: ReadonlySet<string> = new Set(['body', 'err', 'what']);

const MARK = 'VMLAB ';

/**
 * Parses a marker anywhere in `line` (escape codes may precede it), or returns null for other
 * console output. A space-separated word without `=` is kept as part of the previous value.
 */
export function parseVmlabMarker(line: string): VmlabMarker | null {
  const at = line.indexOf(MARK);
  if (at < 0) return null;
  const rest = line.slice(at + MARK.length).replace(/\r$/, '');
  const space = rest.indexOf(' ');
  const event = space < 0 ? rest : rest.slice(0, space);
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(event)) return null;
  const fields: Record<string, string> = {};
  let uptime: number | null = null;
  let last: string | null = null;
  let pos = space < 0 ? rest.length : space + 1;
  while (pos < rest.length) {
    const next = rest.indexOf(' ', pos);
    const word = rest.slice(pos, next < 0 ? rest.length : next);
    const eq = word.indexOf('=');
    const key = eq > 0 ? word.slice(0, eq) : null;
    if (key !== null && VMLAB_FREE_TEXT_KEYS.has(key)) {
      fields[key] = rest.slice(pos + eq + 1);
      break;
    }
    if (key !== null) {
      fields[key] = word.slice(eq + 1);
      last = key;
    } else if (last !== null && word !== '') {
      fields[last] += ` ${word}`;
    }
    pos = next < 0 ? rest.length : next + 1;
  }
  if (fields.uptime !== undefined) {
    const n = Number(fields.uptime);
    if (Number.isFinite(n)) uptime = n;
    delete fields.uptime;
  }
  return { event, uptime, fields };
}

/** The guest's `vmlab.*` kernel options (guest/init header); absent means the guest's default. */
export interface VmlabGuestOptions {
  /** `vmlab.hostaddr`: wget target address (for vnetkit its host-loopback alias). */
  hostaddr?: string;
  /** `vmlab.hostport`: wget target port. */
  hostport?: number;
  /** `vmlab.wget=off` skips the guest→host wget. */
  wget?: boolean;
  wgetpath?: string;
  httpport?: number;
  /** 0 disables the echo server. */
  echoport?: number;
  blobMb?: number;
  mtu?: 'dhcp' | 'none' | number;
  /** DHCPDISCOVERs to send, 1 s apart. */
  dhcpTries?: number;
  /** Power off this many seconds after `ready` (or after an `error`); 0 = at once. */
  poweroff?: number;
  /**
   * No DHCP: `vmlab.static=IP/PREFIX,GATEWAY` (adapters/qemu/guest/init only; the guest then
   * prints `static-configured` instead of `lease-acquired`).
   */
  staticAddress?: { cidr: string; gateway?: string };
  /** With `staticAddress`: nameservers, `vmlab.dns=IP[,IP]`. */
  dns?: readonly string[];
  /** Names the guest resolves after its lease, each reported as a `lookup` marker (`ip=none` when unresolved). */
  lookup?: readonly string[];
}

/** Kernel command-line words for {@link VmlabGuestOptions}, e.g. `vmlab.wget=off vmlab.poweroff=0`. */
export function vmlabAppend(o: VmlabGuestOptions): string {
  const words: string[] = [];
  const put = (k: string, v: string | number | undefined): void => {
    if (v !== undefined) words.push(`vmlab.${k}=${v}`);
  };
  put('hostaddr', o.hostaddr);
  put('hostport', o.hostport);
  put('wget', o.wget === undefined ? undefined : o.wget ? 'on' : 'off');
  put('wgetpath', o.wgetpath);
  put('httpport', o.httpport);
  put('echoport', o.echoport);
  put('blob_mb', o.blobMb);
  put('mtu', o.mtu);
  put('dhcp_tries', o.dhcpTries);
  put('poweroff', o.poweroff);
  put('static', o.staticAddress && `${o.staticAddress.cidr},${o.staticAddress.gateway ?? ''}`);
  put('dns', o.dns && o.dns.length > 0 ? o.dns.join(',') : undefined);
  put('lookup', o.lookup && o.lookup.length > 0 ? o.lookup.join(',') : undefined);
  return words.join(' ');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Waits for the marker `event` on the VM's console and parses it. */
export function waitForVmlabMarker(vm: QemuVm, event: string, timeoutMs: number): ResultAsync<VmlabMarker, ConsoleWaitError> {
  const re = new RegExp(`${escapeRegExp(MARK)}${escapeRegExp(event)}(?: |$)`);
  // The regex guarantees a parsable marker, so the non-null assertion holds.
  return vm.waitForLine(re, timeoutMs).map((m) => parseVmlabMarker(m.line)!);
}
