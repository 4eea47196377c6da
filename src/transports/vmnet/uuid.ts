/**
 * UUID text as the vmnet Command carries it (protocols.md §1.4): 36 ASCII characters in the
 * canonical 8-4-4-4-12 hex form. vpnkit keys its UUID → (IP, MAC) table on the parsed value
 * (protocols.md §1.7), so we canonicalise to lowercase: `C3D6…` and `c3d6…` are one client.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import type { Rng } from '../../runtime/rng.js';
import type { VmnetBadUuidError } from './vmnet-errors.js';

/** Characters in a textual UUID (protocols.md §1.4). */
export const UUID_TEXT_LENGTH = 36;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Parses a canonical textual UUID and returns it lowercased. Any version and variant are
 * accepted, as vpnkit's parser does; braces, `urn:uuid:` prefixes and missing hyphens are not.
 */
export function parseUuid(text: string): Result<string, VmnetBadUuidError> {
  if (text.length !== UUID_TEXT_LENGTH || !UUID_PATTERN.test(text)) {
    return err(vnetError('bad-uuid', `invalid UUID ${JSON.stringify(text)}`, { text }));
  }
  return ok(text.toLowerCase());
}

/**
 * A random (version 4, RFC 4122 variant) UUID, lowercase. Used when a client sends 36 NUL
 * bytes and asks the server to pick its identity (protocols.md §1.4, §1.7 item 5).
 */
export function generateUuidV4(rng: Rng): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const w = rng.u32();
    b[i] = w >>> 24;
    b[i + 1] = (w >>> 16) & 0xff;
    b[i + 2] = (w >>> 8) & 0xff;
    b[i + 3] = w & 0xff;
  }
  // RFC 4122 §4.4: version nibble 4, variant bits 10.
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
