/**
 * The typed failures of the vmnet protocol (protocols.md §1): message codecs, the server and
 * client handshakes, and the frame-phase decoder. Each is a {@link VnetError} variant
 * discriminated on `kind`, carrying the facts a caller needs to log or test it.
 * @module
 */
import type { VnetError } from '../../errors.js';

/** Which handshake message was being read or awaited (protocols.md §1.2). */
export type VmnetPhase = 'init' | 'command' | 'response';

/** Fewer bytes than a fixed-size message needs were handed to a decoder. */
export type VmnetTruncatedError = VnetError<'truncated'> & { readonly expected: number; readonly received: number };

/** A command's UUID field is neither 36 NULs nor a canonical 8-4-4-4-12 UUID (protocols.md §1.4). */
export type VmnetBadUuidError = VnetError<'bad-uuid'> & { readonly text: string };

/** A command byte other than 1 (Ethernet) or 8 (Preferred_ipv4) (protocols.md §1.4). */
export type VmnetUnknownCommandError = VnetError<'unknown-command'> & { readonly code: number };

/** A response type byte other than 1 (Vif) or 2 (Disconnect) (protocols.md §1.5). */
export type VmnetUnknownResponseError = VnetError<'unknown-response'> & { readonly type: number };

/** A value handed to an encoder does not fit its field (a u16 MTU, a 6-byte MAC, a u32 address…). */
export type VmnetInvalidArgumentError = VnetError<'invalid-argument'>;

/** The peer's Init carries a version other than 22 (protocols.md §1.2, §1.3). */
export type VmnetBadVersionError = VnetError<'bad-version'> & { readonly version: number };

/** The server's Init does not start with `VMN3T` (client side; protocols.md §1.2). */
export type VmnetBadMagicError = VnetError<'bad-magic'> & { readonly magic: string };

/** The peer closed (EOF or close) before a whole handshake message arrived. */
export type VmnetShortReadError = VnetError<'short-read'> & {
  readonly phase: VmnetPhase;
  readonly expected: number;
  readonly received: number;
};

/** The handshake did not finish within its deadline. */
export type VmnetTimeoutError = VnetError<'timeout'> & { readonly phase: VmnetPhase; readonly timeoutMs: number };

/** The network refused the client (server side): a Disconnect carrying `reason` was sent (protocols.md §1.5). */
export type VmnetRefusedError = VnetError<'refused'> & { readonly reason: string };

/** The stream reported an error during the handshake; `cause` holds it. */
export type VmnetIoError = VnetError<'io-error'> & { readonly phase: VmnetPhase };

/**
 * The peer finished its sending side after its last handshake message but before ours was
 * written; the link is unusable, so the handshake fails rather than hand over a half-closed stream.
 */
export type VmnetPeerClosedError = VnetError<'peer-closed'> & { readonly phase: VmnetPhase };

/** The injected `assign` threw or returned a MAC/MTU that cannot be encoded; a Disconnect was sent. */
export type VmnetBadAssignmentError = VnetError<'bad-assignment'>;

/** Everything parsing a Command (`decodeCommand`) can report. */
export type VmnetCommandDecodeError = VmnetTruncatedError | VmnetUnknownCommandError | VmnetBadUuidError;

/** Everything parsing a Response can report. */
export type VmnetResponseDecodeError = VmnetTruncatedError | VmnetUnknownResponseError;

/** Every way a server or client handshake can fail. On any of them the stream has been closed. */
export type VmnetHandshakeError =
  | VmnetBadVersionError
  | VmnetBadMagicError
  | VmnetBadUuidError
  | VmnetUnknownCommandError
  | VmnetUnknownResponseError
  | VmnetShortReadError
  | VmnetTimeoutError
  | VmnetRefusedError
  | VmnetIoError
  | VmnetPeerClosedError
  | VmnetBadAssignmentError
  | VmnetInvalidArgumentError;
