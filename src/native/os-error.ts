/**
 * OS errors from the native addon. The addon returns negative libuv codes (on Linux exactly
 * `-errno`); this module names them with Node's own error map, so `-11` reads `EAGAIN` on
 * Linux and `-4088` reads `EAGAIN` on Windows.
 * @module
 */
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { vnetError, type VnetError } from '../errors.js';

/** An operating-system call failed. */
export interface OsError extends VnetError<'os-error'> {
  /** Symbolic name, e.g. `EACCES`, `ENODEV`. */
  readonly code: string;
  /** The negative libuv code the addon returned. */
  readonly errno: number;
  /** What was being done, e.g. `vsockConnect`, `openTap`. */
  readonly syscall: string;
}

let byName: Map<string, number> | undefined;

/** The negative libuv code for a symbolic error name on this platform (e.g. `EAGAIN`). */
export function uvCode(name: string): number {
  if (byName === undefined) {
    byName = new Map();
    for (const [code, [n]] of getSystemErrorMap()) byName.set(n, code);
  }
  return byName.get(name) ?? Number.MIN_SAFE_INTEGER;
}

/** Frequently compared codes, resolved once for this platform. */
export const UV_EAGAIN = uvCode('EAGAIN');
/** See {@link UV_EAGAIN}. */
export const UV_EBADF = uvCode('EBADF');
/** See {@link UV_EAGAIN}. */
export const UV_ENOSYS = uvCode('ENOSYS');
/** See {@link UV_EAGAIN}. */
export const UV_ENOTCONN = uvCode('ENOTCONN');
/** See {@link UV_EAGAIN}. */
export const UV_EACCES = uvCode('EACCES');

/** `EACCES`-style name for a negative code, `E<n>` when unknown. */
export function errnoName(code: number): string {
  try {
    return getSystemErrorName(code);
  } catch {
    return `E${-code}`;
  }
}

/** The platform's description of a negative code, e.g. "permission denied". */
export function errnoMessage(code: number): string {
  return getSystemErrorMap().get(code)?.[1] ?? 'unknown error';
}

/** Builds an {@link OsError} for a failed native call; `detail` is appended to the message. */
export function osError(syscall: string, code: number, detail?: string): OsError {
  const name = errnoName(code);
  const message = `${syscall} failed: ${name} (${errnoMessage(code)})${detail ? `: ${detail}` : ''}`;
  return vnetError('os-error', message, { code: name, errno: code, syscall });
}

/** Converts an {@link OsError} into the `Error` shape Node streams emit (`code`, `errno`, `syscall`). */
export function toErrnoException(e: OsError): NodeJS.ErrnoException {
  return Object.assign(new Error(e.message), { code: e.code, errno: e.errno, syscall: e.syscall });
}
