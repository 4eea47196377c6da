/**
 * A scripted getaddrinfo for host-resolver tests: every lookup is recorded with the clock time and
 * stays pending until the test answers it (or a `table` answers it at once). Nothing happens by
 * itself, so with a ManualScheduler every step is deterministic.
 */
import type { Clock } from '../../../src/runtime/clock.js';
import type { HostLookup, HostLookupOutcome } from '../../../src/services/dns/host-lookup.js';

/** One getaddrinfo call. */
export interface FakeLookupCall {
  readonly name: string;
  readonly family: 4 | 6;
  /** Clock time of the call. */
  readonly at: number;
  /** Completes the call with addresses (an empty list is allowed: a result without this family). */
  answer(...addresses: string[]): void;
  /** Completes the call with a getaddrinfo error code (`EAI_NONAME`, `EAI_NODATA`, `EAI_AGAIN`…). */
  fail(code: string): void;
  /** Whether it was completed. */
  done(): boolean;
}

/** What a table entry says for one name: addresses per family, or an error code for any family. */
export type FakeHostEntry = { readonly 4?: readonly string[]; readonly 6?: readonly string[] } | { readonly error: string };

/** The scripted host resolver. */
export class FakeHostLookup implements HostLookup {
  readonly calls: FakeLookupCall[] = [];

  /**
   * With a `table`, lookups complete synchronously: a listed name gives its addresses of the
   * family, or `EAI_NONAME` for a family it lacks (what glibc's files backend says); an unlisted
   * name gives `EAI_NONAME`. Without one, every lookup waits for the test.
   */
  constructor(private readonly clock: Clock, private readonly table?: Readonly<Record<string, FakeHostEntry>>) {}

  lookup(name: string, family: 4 | 6, done: (outcome: HostLookupOutcome) => void): void {
    let finished = false;
    const complete = (o: HostLookupOutcome): void => {
      if (finished) throw new Error(`lookup of ${name}/${family} completed twice`);
      finished = true;
      done(o);
    };
    const call: FakeLookupCall = {
      name,
      family,
      at: this.clock.now(),
      answer: (...addresses) => complete({ kind: 'addresses', addresses }),
      fail: (code) => complete({ kind: 'error', code }),
      done: () => finished,
    };
    this.calls.push(call);
    if (this.table === undefined) return;
    const e = this.table[name.toLowerCase()];
    if (e === undefined) return call.fail('EAI_NONAME');
    if ('error' in e) return call.fail(e.error);
    const list = e[family];
    if (list === undefined || list.length === 0) return call.fail('EAI_NONAME');
    call.answer(...list);
  }

  /** Calls not completed yet. */
  pending(): FakeLookupCall[] {
    return this.calls.filter((c) => !c.done());
  }

  /** The one pending call for `name`/`family`, or a test failure. */
  find(name: string, family: 4 | 6): FakeLookupCall {
    const c = this.pending().filter((x) => x.name === name && x.family === family);
    if (c.length !== 1) throw new Error(`expected one pending lookup of ${name}/${family}, found ${c.length}`);
    return c[0]!;
  }
}
