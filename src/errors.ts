/**
 * Errors that cross vnetkit's public boundaries. Every fallible public call returns a
 * neverthrow `Result` whose error is a {@link VnetError}: a discriminated union on `kind`
 * with a human `message` that is rendered once at the edge (CLI line, HTTP 4xx body, `error` event).
 * @module
 */

/** The common shape of every vnetkit error. */
export interface VnetError<K extends string = string> {
  readonly kind: K;
  readonly message: string;
  /** The underlying error (an errno exception, a parse failure), when there is one. */
  readonly cause?: unknown;
}

/** Builds a {@link VnetError} with optional extra typed fields. */
export function vnetError<K extends string, X extends object = object>(
  kind: K,
  message: string,
  extra?: X & { cause?: unknown },
): VnetError<K> & X {
  return { kind, message, ...(extra as X) } as VnetError<K> & X;
}

/** Message of an unknown thrown value, for wrapping OS errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
