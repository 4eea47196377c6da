/**
 * The one error type the e2e harness throws. It always names the namespace and the command
 * and carries the command's stderr, so a failing e2e test explains itself without a rerun.
 * (Test helpers throw instead of returning `Result`: uvu reports a thrown error with its
 * message and stack, which is what a failing test should show.)
 * @module
 */

/** What a failed harness step knew when it failed. */
export interface HarnessErrorDetails {
  /** The network namespace involved, if any. */
  readonly namespace?: string | undefined;
  /** The command line, as run (argv joined with spaces). */
  readonly command?: string | undefined;
  /** The exit code, when the process ran and exited. */
  readonly exitCode?: number | undefined;
  /** The signal that ended the process, if one did. */
  readonly signal?: string | undefined;
  /** Everything the process wrote to stderr. */
  readonly stderr?: string | undefined;
  /** Everything the process wrote to stdout. */
  readonly stdout?: string | undefined;
}

/** Why the harness could not do what a test asked, with the evidence. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  /** The namespace the failure happened in, if any. */
  readonly namespace: string | undefined;
  /** The command that failed, if any. */
  readonly command: string | undefined;
  /** The command's exit code, if it exited. */
  readonly exitCode: number | undefined;
  /** The signal that ended the command, if one did. */
  readonly signal: string | undefined;
  /** The command's stderr (may be empty). */
  readonly stderr: string;
  /** The command's stdout (may be empty). */
  readonly stdout: string;

  constructor(summary: string, details: HarnessErrorDetails = {}) {
    super(formatMessage(summary, details));
    this.namespace = details.namespace;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = details.stderr ?? '';
    this.stdout = details.stdout ?? '';
  }
}

/** Renders an argv as a shell command line that can be pasted to rerun it. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Keeps messages readable when a process printed megabytes. */
function tail(text: string, max = 4000): string {
  return text.length <= max ? text : `[... ${text.length - max} bytes cut ...]\n${text.slice(-max)}`;
}

function formatMessage(summary: string, d: HarnessErrorDetails): string {
  const lines = [d.namespace ? `[${d.namespace}] ${summary}` : summary];
  if (d.command) lines.push(`  command: ${d.command}`);
  if (d.exitCode !== undefined) lines.push(`  exit code: ${d.exitCode}`);
  if (d.signal) lines.push(`  signal: ${d.signal}`);
  if (d.stderr?.trim()) lines.push(`  stderr:\n${indent(tail(d.stderr.trimEnd()))}`);
  if (d.stdout?.trim()) lines.push(`  stdout:\n${indent(tail(d.stdout.trimEnd()))}`);
  return lines.join('\n');
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}
