/**
 * Small helpers for the adapter tests.
 *
 * neverthrow's `_unsafeUnwrap()` throws a plain object, not an `Error`; uvu 0.5's reporter then
 * fails while formatting it and silently ends the suite as if it had passed. These helpers throw
 * real `Error`s, with the VnetError's kind and message, so a failure is reported as one.
 */
import type { Result } from 'neverthrow';

/** The Ok value, or a thrown Error describing the Err. */
export function okOf<T, E>(r: Result<T, E>): T {
  if (r.isErr()) {
    const e = r.error as { kind?: string; message?: string };
    throw new Error(`expected Ok, got Err ${e?.kind ?? ''}: ${e?.message ?? String(r.error)}`);
  }
  return r.value;
}

/** The Err value, or a thrown Error if the result is Ok. */
export function errOf<T, E>(r: Result<T, E>): E {
  if (r.isOk()) throw new Error(`expected Err, got Ok: ${JSON.stringify(r.value)?.slice(0, 200)}`);
  return r.error;
}

/** Fails instead of hanging if `p` never settles: a guard against hangs, not a timing assertion. */
export function guard<T>(p: PromiseLike<T>, what: string, ms = 20_000): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`gave up waiting for ${what} after ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(p), timeout]).finally(() => clearTimeout(t));
}
