/**
 * Errors of the hvsock adapter, all {@link VnetError}s discriminated on `kind`.
 * OS-level failures reuse the native layer's `os-error` shape (`code`, `errno`, `syscall`),
 * whether they come from the addon or from Node's `net` module.
 * @module
 */
import { vnetError, type VnetError } from '../../src/errors.js';
import type { OsError } from '../../src/native/os-error.js';

/** A GUID, port, CID, URI or socket address that does not parse or is out of range. */
export interface InvalidAddress extends VnetError<'invalid-address'> {
  /** The offending input, verbatim. */
  readonly input: string;
}

/** Why a connection-setup exchange (hybrid `CONNECT`/`OK`, hyperkit header) failed. */
export type HandshakeFailure = 'refused' | 'malformed' | 'too-long' | 'timeout' | 'closed' | 'wrong-cid';

/** A connection-setup exchange failed (protocols.md §2.4, §2.6). */
export interface HandshakeError extends VnetError<'handshake-failed'> {
  readonly reason: HandshakeFailure;
}

/** Any error this adapter returns. */
export type HvsockError = InvalidAddress | HandshakeError | OsError | VnetError<'native-unavailable'>;

/** Builds an {@link InvalidAddress}. */
export function invalidAddress(input: string, why: string): InvalidAddress {
  return vnetError('invalid-address', `invalid address '${input}': ${why}`, { input });
}

/** Builds a {@link HandshakeError}. */
export function handshakeError(reason: HandshakeFailure, message: string): HandshakeError {
  return vnetError('handshake-failed', message, { reason });
}

/** Converts an error thrown/emitted by Node (`net`, `fs`) into an `os-error`. */
export function fromNodeError(e: unknown, what: string): OsError {
  const x = e as Partial<NodeJS.ErrnoException> | undefined;
  const code = typeof x?.code === 'string' ? x.code : 'EUNKNOWN';
  const errno = typeof x?.errno === 'number' ? x.errno : 0;
  const syscall = typeof x?.syscall === 'string' ? x.syscall : what;
  const msg = e instanceof Error ? e.message : String(e);
  return vnetError('os-error', `${what}: ${msg}`, { code, errno, syscall, cause: e });
}
