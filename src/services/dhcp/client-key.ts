/**
 * Who a lease belongs to. A NIC is known by its vmnet UUID when it has one (protocols.md §1.7:
 * vpnkit keys its table by UUID, and a hyperkit VM keeps its UUID across restarts while its MAC
 * may change), else by its MAC (cli.md "DHCP pool"). Keys are strings `uuid:<lowercase uuid>`
 * or `mac:<aa:bb:cc:dd:ee:ff>`, so one map holds both kinds.
 *
 * DHCP's client identifier (option 61, RFC 2132 §9.14) is deliberately not a key: systemd-networkd
 * sends a DUID-based one by default, which would stop a `--reserve MAC=IP` from matching.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import { formatMac, parseMac } from '../../wire/address.js';
import type { BadClientKeyError } from './dhcp-errors.js';

/** A lease key: `uuid:…` or `mac:…`. */
export type ClientKey = string;

/** How callers name a NIC in reservations: by UUID or by MAC (a number or `aa:bb:…` text). */
export type ClientSelector = { readonly uuid: string; readonly mac?: undefined } | { readonly mac: number | string; readonly uuid?: undefined };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key of a UUID (case-insensitive: the identity is the binary UUID, protocols.md §8). */
export function uuidKey(uuid: string): ClientKey {
  return `uuid:${uuid.toLowerCase()}`;
}

/** The key of a MAC. */
export function macKey(mac: number): ClientKey {
  return `mac:${formatMac(mac)}`;
}

/** The key a NIC's lease lives under: its UUID's when it has one, else its MAC's. */
export function keyOf(mac: number, uuid: string | undefined): ClientKey {
  return uuid !== undefined ? uuidKey(uuid) : macKey(mac);
}

/** Checks a selector and returns its key. */
export function selectorKey(s: ClientSelector): Result<ClientKey, BadClientKeyError> {
  if (s.uuid !== undefined) {
    if (!UUID.test(s.uuid)) return err(vnetError('bad-client-key', `${JSON.stringify(s.uuid)} is not a UUID`, { key: s.uuid }));
    return ok(uuidKey(s.uuid));
  }
  const mac = typeof s.mac === 'number' ? s.mac : parseMac(s.mac);
  if (mac === undefined || !Number.isInteger(mac) || mac < 0 || mac > 0xffffffffffff) {
    return err(vnetError('bad-client-key', `${JSON.stringify(String(s.mac))} is not a MAC address`, { key: String(s.mac) }));
  }
  return ok(macKey(mac));
}

/**
 * Parses the text of `--reserve KEY=IP`'s KEY: a MAC (`aa:bb:cc:dd:ee:ff` or with `-`) or a
 * canonical UUID.
 */
export function parseClientSelector(text: string): Result<ClientSelector, BadClientKeyError> {
  if (UUID.test(text)) return ok({ uuid: text.toLowerCase() });
  const mac = parseMac(text);
  if (mac !== undefined) return ok({ mac });
  return err(vnetError('bad-client-key', `${JSON.stringify(text)} is neither a MAC address nor a UUID`, { key: text }));
}
