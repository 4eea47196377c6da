/**
 * Reads the short connection-setup prefixes of protocols.md §2.4/§2.6 from a stream — a
 * newline-terminated line (hybrid vsock `CONNECT <port>\n` / `OK <port>\n`, at most 32
 * bytes) or an exact byte count (hyperkit's 18-byte header) — with a deadline, and puts any
 * bytes that arrived after the prefix back into the stream with `unshift`, so the payload
 * that follows is never lost.
 * @module
 */
import type { Duplex } from 'node:stream';
import { err, errAsync, ok, ResultAsync, type Result } from 'neverthrow';
import { SystemScheduler, Timer, type Scheduler } from '../../src/runtime/scheduler.js';
import { handshakeError, type HandshakeError } from './errors.js';

/** Timing for a prefix read. */
export interface ReadTiming {
  /** Give up after this many ms (default 5000). */
  readonly timeoutMs?: number;
  /** Where the deadline is armed; default the process scheduler. */
  readonly scheduler?: Scheduler;
}

let processScheduler: SystemScheduler | undefined;

/** The scheduler used when the caller passes none. */
export function defaultScheduler(): Scheduler {
  processScheduler ??= new SystemScheduler();
  return processScheduler;
}

type Done = { kind: 'line'; limit: number } | { kind: 'exact'; count: number };

function readPrefix(stream: Duplex, want: Done, what: string, timing: ReadTiming): ResultAsync<Buffer, HandshakeError> {
  if (stream.destroyed || stream.readableEnded) return errAsync(handshakeError('closed', `${what}: stream already closed`));
  const scheduler = timing.scheduler ?? defaultScheduler();
  const promise = new Promise<Result<Buffer, HandshakeError>>((resolve) => {
    let got: Buffer = Buffer.alloc(0);
    let settled = false;
    const timer = new Timer(() => finish(handshakeError('timeout', `${what}: no complete reply within ${timing.timeoutMs ?? 5000} ms`)));
    const finish = (r: Buffer | HandshakeError, rest?: Buffer): void => {
      if (settled) return;
      settled = true;
      scheduler.disarm(timer);
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onEnd);
      if (rest !== undefined && rest.length > 0) stream.unshift(rest);
      resolve(Buffer.isBuffer(r) ? ok(r) : err(r));
    };
    const onEnd = (): void =>
      finish(handshakeError(got.length === 0 ? 'refused' : 'closed', got.length === 0 ? `${what}: peer closed the connection without replying` : `${what}: peer closed after ${got.length} bytes of an incomplete reply`));
    const onError = (e: Error): void => finish(handshakeError('closed', `${what}: ${e.message}`));
    const onReadable = (): void => {
      for (;;) {
        const chunk = stream.read() as Buffer | null;
        if (chunk === null) return;
        got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
        if (want.kind === 'exact') {
          if (got.length >= want.count) return finish(got.subarray(0, want.count), got.subarray(want.count));
          continue;
        }
        const nl = got.indexOf(0x0a);
        if (nl >= 0 && nl < want.limit) return finish(got.subarray(0, nl + 1), got.subarray(nl + 1));
        if (got.length >= want.limit) {
          return finish(handshakeError('too-long', `${what}: no newline within ${want.limit} bytes`));
        }
      }
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    scheduler.armIn(timer, timing.timeoutMs ?? 5000);
  });
  return new ResultAsync(promise);
}

/** Reads one line of at most `limit` bytes including the `\n`; resolves to the line with its newline. */
export function readLine(stream: Duplex, limit: number, what: string, timing: ReadTiming = {}): ResultAsync<Buffer, HandshakeError> {
  return readPrefix(stream, { kind: 'line', limit }, what, timing);
}

/** Reads exactly `count` bytes. */
export function readExact(stream: Duplex, count: number, what: string, timing: ReadTiming = {}): ResultAsync<Buffer, HandshakeError> {
  return readPrefix(stream, { kind: 'exact', count }, what, timing);
}
