/**
 * One cleanup list for everything a VM test starts (QEMU processes, networks, resolvers, host
 * servers, temp directories). Helpers register what they create as soon as it exists, so a test
 * that fails half-way still leaves nothing running: `test.after.each(runCleanups)`.
 * @module
 */

interface Entry {
  readonly what: string;
  readonly fn: () => unknown;
}

const entries: Entry[] = [];

/** Registers `fn` to run at the next {@link runCleanups}; the latest registered runs first. */
export function deferCleanup(what: string, fn: () => unknown): void {
  entries.push({ what, fn });
}

/**
 * Runs every registered cleanup, newest first (VMs stop before the network they use closes).
 * A failing cleanup is reported on stderr and does not stop the others.
 */
export async function runCleanups(): Promise<void> {
  while (entries.length > 0) {
    const e = entries.pop()!;
    try {
      await e.fn();
    } catch (err) {
      process.stderr.write(`cleanup of ${e.what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}
