/**
 * Byte codecs for the three fixed-size vmnet handshake messages (protocols.md §1.3–§1.5), for
 * both sides: the server decodes Init and Command and encodes Init and Response; the client
 * does the reverse. Decoders read untrusted bytes and never throw; encoders validate what they
 * are given and return a `Result`.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import { isIpv4Number } from '../../wire/address.js';
import { parseUuid, UUID_TEXT_LENGTH } from './uuid.js';
import type {
  VmnetBadUuidError,
  VmnetCommandDecodeError,
  VmnetInvalidArgumentError,
  VmnetResponseDecodeError,
  VmnetTruncatedError,
} from './vmnet-errors.js';

/** Init = 5-byte magic + u32 LE version + 40-byte commit (protocols.md §1.3). */
export const INIT_SIZE = 49;
/** Command = code byte + 36-byte UUID + 4 bytes, whatever the code (protocols.md §1.4). */
export const COMMAND_SIZE = 41;
/** Response = type + length + 256 bytes of room, always written whole (protocols.md §1.5). */
export const RESPONSE_SIZE = 258;

/** The magic of protocol versions ≥ 1 (protocols.md §1.3). */
export const VMNET_MAGIC = 'VMN3T';
/** The only version vpnkit accepts (protocols.md §1.2, §1.3). */
export const VMNET_VERSION = 22;
/** The commit string vpnkit sends: the digits 0–9 four times (protocols.md §1.3). */
export const VPNKIT_COMMIT = '0123456789'.repeat(4);

const MAGIC_SIZE = 5;
const COMMIT_OFFSET = 9;
const COMMIT_SIZE = 40;

/** Command code: attach an Ethernet interface for a UUID (protocols.md §1.4). */
export const COMMAND_ETHERNET = 1;
/** Command code: as Ethernet, asking for a specific IPv4 address (protocols.md §1.4). */
export const COMMAND_PREFERRED_IPV4 = 8;
/** Response type: success, carries MTU, max packet size and MAC (protocols.md §1.5). */
export const RESPONSE_VIF = 1;
/** Response type: refusal, carries a reason (protocols.md §1.5). */
export const RESPONSE_DISCONNECT = 2;
/** A Disconnect reason's length is one byte (protocols.md §1.5). */
export const DISCONNECT_REASON_MAX = 255;

/** A decoded Init. Magic and commit are latin1 text, so arbitrary bytes survive a round trip. */
export interface VmnetInit {
  readonly magic: string;
  readonly version: number;
  readonly commit: string;
}

/** The Init a vpnkit server sends (protocols.md §1.3); ours sends the same. */
export const VPNKIT_SERVER_INIT: VmnetInit = Object.freeze({
  magic: VMNET_MAGIC,
  version: VMNET_VERSION,
  commit: VPNKIT_COMMIT,
});

/**
 * A decoded Command. `uuid` is the lowercase canonical UUID, or `null` when the client sent
 * 36 NUL bytes to ask the server to generate one (protocols.md §1.4, §1.7 item 5). `ip` is a
 * host-order u32 (see `ipv4.ts`).
 */
export type VmnetCommand =
  | { readonly type: 'ethernet'; readonly uuid: string | null }
  | { readonly type: 'preferred-ipv4'; readonly uuid: string | null; readonly ip: number };

/** What a Vif response tells the client (protocols.md §1.5). */
export interface VmnetVif {
  readonly mtu: number;
  readonly maxPacketSize: number;
  /** 6 raw octets. */
  readonly mac: Uint8Array;
}

/** A decoded Response (protocols.md §1.5). */
export type VmnetResponse =
  | ({ readonly type: 'vif' } & VmnetVif)
  | { readonly type: 'disconnect'; readonly reason: string };

function truncated(expected: number, received: number): VmnetTruncatedError {
  return vnetError('truncated', `need ${expected} bytes, got ${received}`, { expected, received });
}

function invalid(message: string): VmnetInvalidArgumentError {
  return vnetError('invalid-argument', message);
}

function isU16(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

/** Encodes an Init. The magic must be 5 latin1 characters; a commit shorter than 40 is NUL-padded. */
export function encodeInit(init: VmnetInit = VPNKIT_SERVER_INIT): Result<Buffer, VmnetInvalidArgumentError> {
  const magic = Buffer.from(init.magic, 'latin1');
  const commit = Buffer.from(init.commit, 'latin1');
  if (magic.length !== MAGIC_SIZE) return err(invalid(`Init magic must be ${MAGIC_SIZE} bytes`));
  if (commit.length > COMMIT_SIZE) return err(invalid(`Init commit must be at most ${COMMIT_SIZE} bytes`));
  if (!Number.isInteger(init.version) || init.version < 0 || init.version > 0xffffffff) {
    return err(invalid(`Init version ${init.version} is not a u32`));
  }
  const b = Buffer.alloc(INIT_SIZE);
  magic.copy(b, 0);
  b.writeUInt32LE(init.version, MAGIC_SIZE);
  commit.copy(b, COMMIT_OFFSET);
  return ok(b);
}

/** Decodes the first 49 bytes of `bytes` as an Init. It does not judge magic or version; callers do. */
export function decodeInit(bytes: Uint8Array): Result<VmnetInit, VmnetTruncatedError> {
  if (bytes.length < INIT_SIZE) return err(truncated(INIT_SIZE, bytes.length));
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, INIT_SIZE);
  return ok({
    magic: b.toString('latin1', 0, MAGIC_SIZE),
    version: b.readUInt32LE(MAGIC_SIZE),
    commit: b.toString('latin1', COMMIT_OFFSET, COMMIT_OFFSET + COMMIT_SIZE),
  });
}

/**
 * Encodes a Command. `uuid: null` sends 36 NULs; otherwise the UUID must parse and is sent in
 * lowercase canonical form. A preferred IP is sent as u32 LE, i.e. octets reversed
 * (protocols.md §1.4: 192.168.65.10 → `0a 41 a8 c0`).
 */
export function encodeCommand(cmd: VmnetCommand): Result<Buffer, VmnetBadUuidError | VmnetInvalidArgumentError> {
  const b = Buffer.alloc(COMMAND_SIZE);
  if (cmd.uuid !== null) {
    const u = parseUuid(cmd.uuid);
    if (u.isErr()) return err(u.error);
    b.write(u.value, 1, UUID_TEXT_LENGTH, 'latin1');
  }
  if (cmd.type === 'ethernet') {
    b[0] = COMMAND_ETHERNET;
  } else {
    if (!isIpv4Number(cmd.ip)) return err(invalid(`preferred IPv4 ${cmd.ip} is not a u32`));
    b[0] = COMMAND_PREFERRED_IPV4;
    b.writeUInt32LE(cmd.ip, 1 + UUID_TEXT_LENGTH);
  }
  return ok(b);
}

/**
 * Decodes the first 41 bytes of `bytes` as a Command. Unknown codes (including 6, Bind_ipv4,
 * which vpnkit's parser rejects) and UUID text that does not parse are errors (protocols.md §1.4).
 */
export function decodeCommand(bytes: Uint8Array): Result<VmnetCommand, VmnetCommandDecodeError> {
  if (bytes.length < COMMAND_SIZE) return err(truncated(COMMAND_SIZE, bytes.length));
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, COMMAND_SIZE);
  const code = b[0]!;
  if (code !== COMMAND_ETHERNET && code !== COMMAND_PREFERRED_IPV4) {
    return err(vnetError('unknown-command', `unknown vmnet command ${code}`, { code }));
  }
  let uuid: string | null = null;
  let allNul = true;
  for (let i = 1; i <= UUID_TEXT_LENGTH; i++) {
    if (b[i] !== 0) {
      allNul = false;
      break;
    }
  }
  if (!allNul) {
    const u = parseUuid(b.toString('latin1', 1, 1 + UUID_TEXT_LENGTH));
    if (u.isErr()) return err(u.error);
    uuid = u.value;
  }
  if (code === COMMAND_ETHERNET) return ok({ type: 'ethernet', uuid });
  return ok({ type: 'preferred-ipv4', uuid, ip: b.readUInt32LE(1 + UUID_TEXT_LENGTH) });
}

/**
 * Encodes a Response into a zeroed 258-byte buffer. A Disconnect reason longer than 255 UTF-8
 * bytes is cut at a character boundary, since its length field is one byte (protocols.md §1.5).
 */
export function encodeResponse(r: VmnetResponse): Result<Buffer, VmnetInvalidArgumentError> {
  const b = Buffer.alloc(RESPONSE_SIZE);
  if (r.type === 'vif') {
    if (!isU16(r.mtu) || r.mtu === 0) return err(invalid(`mtu ${r.mtu} is not a non-zero u16`));
    if (!isU16(r.maxPacketSize) || r.maxPacketSize === 0) {
      return err(invalid(`max packet size ${r.maxPacketSize} is not a non-zero u16`));
    }
    if (r.mac.length !== 6) return err(invalid(`MAC must be 6 bytes, got ${r.mac.length}`));
    b[0] = RESPONSE_VIF;
    b.writeUInt16LE(r.mtu, 1);
    b.writeUInt16LE(r.maxPacketSize, 3);
    b.set(r.mac, 5);
    return ok(b);
  }
  const text = Buffer.from(r.reason, 'utf8');
  let len = Math.min(text.length, DISCONNECT_REASON_MAX);
  // Back off over UTF-8 continuation bytes (10xxxxxx) so a cut never splits a character.
  if (len < text.length) while (len > 0 && (text[len]! & 0xc0) === 0x80) len--;
  b[0] = RESPONSE_DISCONNECT;
  b[1] = len;
  text.copy(b, 2, 0, len);
  return ok(b);
}

/**
 * Decodes the first 258 bytes of `bytes` as a Response. The MAC is copied out, so the result
 * does not alias the input. The padding is not checked (vpnkit zeroes it; nobody reads it).
 */
export function decodeResponse(bytes: Uint8Array): Result<VmnetResponse, VmnetResponseDecodeError> {
  if (bytes.length < RESPONSE_SIZE) return err(truncated(RESPONSE_SIZE, bytes.length));
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, RESPONSE_SIZE);
  const type = b[0]!;
  if (type === RESPONSE_VIF) {
    return ok({
      type: 'vif',
      mtu: b.readUInt16LE(1),
      maxPacketSize: b.readUInt16LE(3),
      mac: Buffer.from(b.subarray(5, 11)),
    });
  }
  if (type === RESPONSE_DISCONNECT) {
    // L ≤ 255 and 2 + 255 < 258, so the reason always lies inside the message.
    return ok({ type: 'disconnect', reason: b.toString('utf8', 2, 2 + b[1]!) });
  }
  return err(vnetError('unknown-response', `unknown vmnet response type ${type}`, { type }));
}
