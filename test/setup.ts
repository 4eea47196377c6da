/**
 * Loaded before every test run (`node --import tsx --import ./test/setup.ts`). Two guards that
 * keep a failing test from passing unnoticed:
 *
 * 1. neverthrow's `_unsafeUnwrap()`/`_unsafeUnwrapErr()` throw a plain object, which makes uvu
 *    0.5's reporter crash inside its `finally` — the test is then neither passed nor reported and
 *    the run exits 0. We make them throw real `Error`s that carry the error's kind and message.
 * 2. Whatever else goes wrong in the reporter, a run whose "Passed" count is below its "Total"
 *    must not exit 0: we watch uvu's summary lines and fail the process if they disagree.
 * 3. A failed test often skips its cleanup and leaves a socket open, and uvu waits for the event
 *    loop to empty: the run would hang (in CI until the job's time limit) instead of failing.
 *    Once the summary is printed, a run with failures exits after 2 s, and any run still alive
 *    60 s later exits 1 saying something was left open.
 */
import { Err, Ok } from 'neverthrow';

const describe = (v: unknown): string => {
  if (v instanceof Error) return v.message;
  if (v !== null && typeof v === 'object') {
    const o = v as { kind?: unknown; message?: unknown };
    if (typeof o.message === 'string') return `${typeof o.kind === 'string' ? `${o.kind}: ` : ''}${o.message}`;
  }
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

Err.prototype._unsafeUnwrap = function (this: Err<unknown, unknown>): never {
  throw new Error(`expected Ok, got Err(${describe(this.error)})`);
};
Ok.prototype._unsafeUnwrapErr = function (this: Ok<unknown, unknown>): never {
  throw new Error(`expected Err, got Ok(${describe(this.value)})`);
};

let tail = '';
/** Output since the last summary-looking block (guard 3). */
let recent = '';
let guard3: NodeJS.Timeout | undefined;
// uvu's own summary, unindented (a child run relayed by a test is prefixed, e.g. "  │ ").
const SUMMARY = /(?:^|\n) {2}Total:\s+\d+\s*\n {2}Passed:\s+\d+\s*\n {2}Skipped:\s+\d+\s*\n {2}Duration:\s+[\d.]+ms/;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  tail = (tail + text).slice(-4096);
  const ok = (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  // Output after a summary means it was not the last one (a child's, relayed): stand down.
  if (guard3 !== undefined) {
    clearTimeout(guard3);
    guard3 = undefined;
  }
  // eslint-disable-next-line no-control-regex
  recent = (recent + text.replace(/\x1b\[[0-9;]*m/g, '')).slice(-4096);
  if (SUMMARY.test(recent)) {
    recent = '';
    guard3 = onSummary();
  }
  return ok;
}) as typeof process.stdout.write;

/** The counts in uvu's summary, or undefined before it is printed. */
function summary(): { total: number; passed: number } | undefined {
  // eslint-disable-next-line no-control-regex
  const plain = tail.replace(/\x1b\[[0-9;]*m/g, '');
  const total = /Total:\s+(\d+)/.exec(plain);
  const passed = /Passed:\s+(\d+)/.exec(plain);
  return total && passed ? { total: Number(total[1]), passed: Number(passed[1]) } : undefined;
}

/** Guard 3: leftovers of a test may not keep the run alive. The timer does not hold the loop open. */
function onSummary(): NodeJS.Timeout {
  const s = summary();
  const failed = s !== undefined && s.passed < s.total;
  const leave = (why: string): void => {
    process.stderr.write(`test/setup.ts: ${why}\n`);
    process.exit(1);
  };
  return failed
    ? setTimeout(() => leave('tests failed, and something they left open kept the process alive; exiting'), 2_000).unref()
    : setTimeout(() => leave('every test passed, but something left open kept the process alive for 60 s after the summary'), 60_000).unref();
}

process.on('exit', () => {
  const s = summary();
  if (s !== undefined && s.passed < s.total) {
    process.stderr.write(`test/setup.ts: ${s.total - s.passed} test(s) did not pass (some may have thrown a non-Error that uvu could not report)\n`);
    process.exitCode = 1;
  }
});
