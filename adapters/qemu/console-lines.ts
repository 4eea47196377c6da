/**
 * Serial console bytes → clean text lines.
 *
 * QEMU's `-serial stdio` passes the guest's UART output through unchanged: lines end in CRLF,
 * and firmware or the kernel can put terminal escape sequences (`ESC c`, `ESC [?7l`,
 * `ESC [2J`) in front of the first line a test cares about (vmlab README, pitfall 11). Lines are
 * split on LF; a trailing CR and any escape sequences at the start of a line are removed.
 * @module
 */
import { StringDecoder } from 'node:string_decoder';

/** A line longer than this is emitted in pieces, so a guest that never sends LF cannot grow memory without bound. */
export const MAX_CONSOLE_LINE = 64 * 1024;

// CSI (`ESC [` params intermediates final) first, then any two-character escape (`ESC c`, `ESC 7`, …).
const LEADING_ESCAPES = /^(?:\x1b\[[0-?]*[ -/]*[@-~]|\x1b[0-Z\\-~])+/;

/** Removes a trailing CR and escape sequences at the start of a line. */
export function cleanConsoleLine(raw: string): string {
  const noCr = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  return noCr.replace(LEADING_ESCAPES, '');
}

/** Incremental splitter: feed chunks, get the complete lines; `end()` flushes the rest. */
export class ConsoleLineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  /** Complete lines in `chunk` (plus what was pending), cleaned. */
  push(chunk: Uint8Array | string): string[] {
    const text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk as Buffer));
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    const lines = parts.map(cleanConsoleLine);
    while (this.partial.length >= MAX_CONSOLE_LINE) {
      lines.push(cleanConsoleLine(this.partial.slice(0, MAX_CONSOLE_LINE)));
      this.partial = this.partial.slice(MAX_CONSOLE_LINE);
    }
    return lines;
  }

  /** The last, unterminated line if any (at end of stream). */
  end(): string[] {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest.length > 0 ? [cleanConsoleLine(rest)] : [];
  }
}
