/**
 * Loaded before every test run (`node --import tsx --import ./test/setup.ts`). Two guards that
 * keep a failing test from passing unnoticed:
 *
 * 1. neverthrow's `_unsafeUnwrap()`/`_unsafeUnwrapErr()` throw a plain object, which makes uvu
 *    0.5's reporter crash inside its `finally` — the test is then neither passed nor reported and
 *    the run exits 0. We make them throw real `Error`s that carry the error's kind and message.
 * 2. Whatever else goes wrong in the reporter, a run whose "Passed" count is below its "Total"
 *    must not exit 0: we watch uvu's summary lines and fail the process if they disagree.
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
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  tail = (tail + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())).slice(-4096);
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

process.on('exit', () => {
  // eslint-disable-next-line no-control-regex
  const plain = tail.replace(/\x1b\[[0-9;]*m/g, '');
  const total = /Total:\s+(\d+)/.exec(plain);
  const passed = /Passed:\s+(\d+)/.exec(plain);
  if (total && passed && Number(passed[1]) < Number(total[1])) {
    process.stderr.write(`test/setup.ts: ${Number(total[1]) - Number(passed[1])} test(s) did not pass (some may have thrown a non-Error that uvu could not report)\n`);
    process.exitCode = 1;
  }
});
