/**
 * Lazy loader for vnetkit's one optional native addon (`vnetkit_native.node`).
 *
 * The addon is optional by design: `npm run build:native` never fails an install, so every
 * feature that needs it (AF_VSOCK, TAP devices, ping sockets, AF_HYPERV) asks
 * {@link loadNative} and reports `native-unavailable` with the reason when it is missing.
 * The typed wrappers live beside this file: `fd-stream.ts`, `tap-device.ts`, `ping-socket.ts`.
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../errors.js';
import type { NativeAddon } from './native-addon.js';
import { UV_ENOSYS } from './os-error.js';

export type * from './native-addon.js';

/** The addon could not be used; `message` says why (not built, wrong platform, load error). */
export type NativeUnavailable = VnetError<'native-unavailable'>;

const ADDON_ABI = 1;
const RELATIVE = 'build/Release/vnetkit_native.node';

/** Where the addon may be: an explicit override, beside this file (source tree), or back in
 * `src/native/` when this file runs compiled from `dist/src/native/`. */
function candidates(): string[] {
  const out: string[] = [];
  const override = process.env['VNETKIT_NATIVE_PATH'];
  if (override) out.push(override);
  out.push(fileURLToPath(new URL(`./${RELATIVE}`, import.meta.url)));
  out.push(fileURLToPath(new URL(`../../../src/native/${RELATIVE}`, import.meta.url)));
  return out;
}

const LINUX_ONLY = [
  'vsockListen', 'vsockAccept', 'vsockConnect', 'vsockLocalCid', 'getsockname',
  'openTap', 'pingSocket', 'socketPair',
] as const;
const WINDOWS_ONLY = ['hvsockListen', 'hvsockAccept', 'hvsockConnect'] as const;

/** Fills the half of the interface this platform's build lacks with ENOSYS stubs. */
function complete(raw: Record<string, unknown>): NativeAddon {
  const out: Record<string, unknown> = { ...raw };
  for (const name of [...LINUX_ONLY, ...WINDOWS_ONLY]) {
    if (typeof out[name] !== 'function') out[name] = () => UV_ENOSYS;
  }
  return out as unknown as NativeAddon;
}

/**
 * Loads the addon from the first existing path of `paths` without caching (tests, tools);
 * everything else should call {@link loadNative}.
 */
export function loadNativeFrom(paths: readonly string[]): Result<NativeAddon, NativeUnavailable> {
  if (process.platform !== 'linux' && process.platform !== 'win32') {
    return err(vnetError('native-unavailable', `the native addon supports Linux (and, untested, Windows), not ${process.platform}`));
  }
  const found = paths.find((p) => existsSync(p));
  if (found === undefined) {
    return err(vnetError('native-unavailable', `the native addon is not built (looked for ${paths.join(', ')}); run \`npm run build:native\``));
  }
  let raw: Record<string, unknown>;
  try {
    raw = createRequire(import.meta.url)(found) as Record<string, unknown>;
  } catch (e) {
    return err(vnetError('native-unavailable', `the native addon at ${found} failed to load: ${describeError(e)}`, { cause: e }));
  }
  if (raw['abiVersion'] !== ADDON_ABI || typeof raw['FdHandle'] !== 'function') {
    return err(vnetError('native-unavailable', `the native addon at ${found} is stale (abi ${String(raw['abiVersion'])}, want ${ADDON_ABI}); run \`npm run build:native\``));
  }
  return ok(complete(raw));
}

let cached: Result<NativeAddon, NativeUnavailable> | undefined;

/** Loads the addon on first use and caches the outcome (success or the reason it failed). */
export function loadNative(): Result<NativeAddon, NativeUnavailable> {
  cached ??= loadNativeFrom(candidates());
  return cached;
}
