/**
 * The flows whose guest→host batch waits for the end of the turn. Both owners of {@link TcpFlow}s
 * (outbound NAT and exposed ports) keep one: a flow is listed once however many segments it took
 * in the turn, and one deferred call writes every listed flow's batch to its host socket.
 * @module
 */
import type { Defer } from '../runtime/end-of-turn.js';
import type { TcpFlow } from './tcp-flow.js';

/** A once-per-turn list of flows to flush toward their host sockets. */
export class HostFlushQueue {
  private readonly dirty: TcpFlow[] = [];
  private queued = false;
  private readonly flushFn = (): void => this.flush();

  constructor(private readonly defer: Defer) {}

  /** Lists `f` for the end of the turn (once; `f.flushQueued` says it is listed). */
  add(f: TcpFlow): void {
    if (f.flushQueued) return;
    f.flushQueued = true;
    this.dirty.push(f);
    if (!this.queued) {
      this.queued = true;
      this.defer(this.flushFn);
    }
  }

  /** Writes every listed flow's batch to its host socket, now. */
  flush(): void {
    this.queued = false;
    const l = this.dirty;
    for (let i = 0; i < l.length; i++) l[i]!.flushToHost();
    l.length = 0;
  }
}
