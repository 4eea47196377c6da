/**
 * Waiting helpers for e2e tests: poll a condition with a generous deadline instead of sleeping
 * a fixed time, and fail with a message that says what was awaited.
 * @module
 */
import { HarnessError, type HarnessErrorDetails } from './harness-error.js';
import type { Guest } from './netns.js';

/** Options for {@link waitUntil}. */
export interface WaitOptions {
  /** Give up after this long (default 20 s). */
  readonly timeoutMs?: number;
  /** Pause between attempts (default 100 ms). */
  readonly intervalMs?: number;
  /** Namespace to name in the error, if any. */
  readonly namespace?: string;
}

/**
 * Calls `check` until it returns a value other than undefined/false, and returns it. Throws a
 * {@link HarnessError} saying `what` when the deadline passes (with the last thrown error, if any).
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new HarnessError(`gave up after ${timeoutMs} ms waiting for ${what}${why}`, { namespace: opts.namespace });
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** Resolves once something inside `guest` listens on TCP `port` (checked with `ss`). */
export async function waitForTcpListener(guest: Guest, port: number, opts: WaitOptions = {}): Promise<void> {
  await waitUntil(
    `a TCP listener on port ${port}`,
    async () => {
      const r = await guest.exec(['ss', '-Hltn', `sport = :${port}`], { reject: false, timeoutMs: 5_000 });
      return r.exitCode === 0 && r.stdout.trim() !== '';
    },
    { namespace: guest.name, ...opts },
  );
}

/**
 * Races `promise` against a deadline; the error names `what` (plus `details`, computed when the
 * deadline passes, e.g. the stderr so far). Use it when awaiting a background process, so a
 * hung process fails the test instead of hanging the run.
 */
export async function withTimeout<T>(
  what: string,
  promise: Promise<T>,
  timeoutMs: number,
  details: () => HarnessErrorDetails = () => ({}),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HarnessError(`${what}: not done after ${timeoutMs} ms`, details())), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
