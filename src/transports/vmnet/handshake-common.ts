/**
 * Pieces shared by the server and client handshakes: the default deadline and the mapping of
 * read failures to {@link VmnetHandshakeError}s.
 * @module
 */
import { describeError, vnetError } from '../../errors.js';
import type { ReadFailure } from './exact-reader.js';
import type { VmnetHandshakeError, VmnetPhase, VmnetTruncatedError } from './vmnet-errors.js';

/** Default whole-handshake deadline: without one a peer that connects and stays silent holds a connection forever. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Maps a failed read to the handshake error for `phase`. */
export function readFailureError(f: ReadFailure, phase: VmnetPhase, expected: number, timeoutMs: number): VmnetHandshakeError {
  switch (f.kind) {
    case 'eof':
      return vnetError('short-read', `peer closed after ${f.received} of ${expected} bytes of ${phase}`, {
        phase,
        expected,
        received: f.received,
      });
    case 'timeout':
      return vnetError('timeout', `handshake timed out after ${timeoutMs} ms waiting for ${phase}`, { phase, timeoutMs });
    case 'io-error':
      return vnetError('io-error', `stream error while reading ${phase}: ${describeError(f.cause)}`, {
        phase,
        cause: f.cause,
      });
  }
}

/** A decoder said "truncated" for a buffer the reader sized exactly: report it as a short read. */
export function truncatedError(phase: VmnetPhase, e: VmnetTruncatedError): VmnetHandshakeError {
  return vnetError('short-read', `${phase}: ${e.message}`, { phase, expected: e.expected, received: e.received });
}
