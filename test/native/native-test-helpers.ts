/**
 * Shared helpers for the native addon tests: load the addon or explain why the test skips.
 * @module
 */
import { loadNative, type NativeAddon } from '../../src/native/index.js';

/** The addon, or undefined after printing why the calling test file is skipped. */
export function nativeOrSkip(file: string): NativeAddon | undefined {
  const r = loadNative();
  if (r.isErr()) {
    console.log(`SKIP ${file}: ${r.error.message}`);
    return undefined;
  }
  return r.value;
}

/** Resolves when `fn` returns true, checking on each event-loop turn (bounded by `turns`). */
export async function eventually(fn: () => boolean, turns = 10_000): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (fn()) return true;
    await new Promise((r) => setImmediate(r));
  }
  return fn();
}
