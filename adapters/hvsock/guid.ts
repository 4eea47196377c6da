/**
 * GUIDs as Hyper-V sockets use them (protocols.md §2.1): parsed case-insensitively (with or
 * without braces), kept in one canonical lowercase `8-4-4-4-12` text form so equal GUIDs
 * compare equal with `===`, and converted to the two byte orders that matter: RFC 4122
 * (big-endian fields) and Windows memory order (Data1/Data2/Data3 little-endian), the
 * latter being what SOCKADDR_HV carries.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { invalidAddress, type InvalidAddress } from './errors.js';

/** A GUID in canonical form: lowercase hex, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
export type Guid = string & { readonly __guid: true };

/** Byte order of a 16-byte GUID. */
export type GuidByteOrder = 'rfc4122' | 'windows';

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Parses `text` (any case, optional surrounding braces) into a canonical {@link Guid}. */
export function parseGuid(text: string): Result<Guid, InvalidAddress> {
  let t = text.trim().toLowerCase();
  if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1);
  if (!GUID_RE.test(t)) return err(invalidAddress(text, 'not a GUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)'));
  return ok(t as Guid);
}

/** True when `text` parses as a GUID. */
export function isGuid(text: string): boolean {
  return parseGuid(text).isOk();
}

/** For constants known to be valid at build time. @internal */
export function guidConstant(text: string): Guid {
  const r = parseGuid(text);
  if (r.isErr()) throw new Error(r.error.message);
  return r.value;
}

/** Windows memory order swaps the first three fields: these are their byte positions. */
const WINDOWS_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];

/** The 16 bytes of `g` in the given order. */
export function guidToBytes(g: Guid, order: GuidByteOrder = 'rfc4122'): Uint8Array {
  const hex = g.replace(/-/g, '');
  const rfc = new Uint8Array(16);
  for (let i = 0; i < 16; i++) rfc[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  if (order === 'rfc4122') return rfc;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = rfc[WINDOWS_ORDER[i]!]!;
  return out;
}

/** Reads a GUID from 16 bytes at `offset` of `bytes`; Err when fewer than 16 bytes remain. */
export function guidFromBytes(bytes: Uint8Array, order: GuidByteOrder = 'rfc4122', offset = 0): Result<Guid, InvalidAddress> {
  if (offset < 0 || bytes.length - offset < 16) {
    return err(invalidAddress(`<${Math.max(0, bytes.length - offset)} bytes>`, 'a GUID needs 16 bytes'));
  }
  let hex = '';
  for (let i = 0; i < 16; i++) {
    const b = bytes[offset + (order === 'rfc4122' ? i : WINDOWS_ORDER[i]!)]!;
    hex += b.toString(16).padStart(2, '0');
  }
  return ok(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as Guid);
}
