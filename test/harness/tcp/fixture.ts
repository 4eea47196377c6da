/**
 * A TCP endpoint on a manual clock with a capturing output, plus smoltcp-style helpers: `send`
 * feeds a crafted guest segment at an explicit time and flushes, `expect` asserts the exact
 * segments sent since the last check, `expectNothing` asserts silence, and state factories
 * (`established()`, `finWait1()`, …) reach each RFC state through real transitions.
 * @module
 */
import * as assert from 'uvu/assert';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import type { Rng } from '../../../src/runtime/rng.js';
import type { TcpConfig } from '../../../src/stack/tcp/config.js';
import type { CloseReason, Connection } from '../../../src/stack/tcp/connection.js';
import { TcpEndpoint } from '../../../src/stack/tcp/endpoint.js';
import { formatState, type State } from '../../../src/stack/tcp/state.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { CaptureOutput, type Captured } from './capture-output.js';
import { ACK, describe, describeCaptured, FIN, frame, SYN, type Expected, type SegSpec } from './segments.js';

export const GUEST_IP = parseIpv4('192.168.65.2')!;
export const GUEST_PORT = 49152;
/** The remote the guest talks to; the endpoint impersonates it. */
export const REMOTE_IP = parseIpv4('198.51.100.7')!;
export const REMOTE_PORT = 80;
/** The guest's ISN. */
export const REMOTE_SEQ = 10_000;
/** Our ISN (the fixture's RNG returns it for every draw). */
export const LOCAL_SEQ = 20_000;

/** An RNG that always returns the same value: our ISN is predictable in tests. */
export function constRng(v: number): Rng {
  return { u32: () => v >>> 0 };
}

/** Options of a {@link TcpFixture}. */
export interface FixtureOptions {
  config?: TcpConfig;
  mtu?: number;
  /** Our ISN (default {@link LOCAL_SEQ}). */
  localSeq?: number;
  /** The guest's ISN (default {@link REMOTE_SEQ}). */
  remoteSeq?: number;
  /** Listen on REMOTE_IP:REMOTE_PORT (default true); false leaves SYNs to `ep.onSyn`. */
  listen?: boolean;
}

/** Endpoint + clock + capture + recorded events. */
export class TcpFixture {
  readonly sched = new ManualScheduler();
  readonly out: CaptureOutput;
  readonly ep: TcpEndpoint;
  readonly localSeq: number;
  readonly remoteSeq: number;
  /** Bytes delivered through onData, in order. */
  received: Buffer[] = [];
  /** 'established' | 'end' | 'writable' | 'close:<reason>' in order. */
  readonly events: string[] = [];
  /** The connection under test (set by accept or a factory). */
  conn: Connection | undefined;

  constructor(o: FixtureOptions = {}) {
    this.localSeq = o.localSeq ?? LOCAL_SEQ;
    this.remoteSeq = o.remoteSeq ?? REMOTE_SEQ;
    this.out = new CaptureOutput(o.mtu ?? 1500);
    this.ep = new TcpEndpoint({
      output: this.out,
      runtime: { clock: this.sched.clock, scheduler: this.sched, rng: constRng(this.localSeq) },
      config: { randomTimestampOffset: false, ...o.config },
      defer: () => {}, // tests flush explicitly, after each input
    });
    if (o.listen !== false) this.ep.listen(REMOTE_IP, REMOTE_PORT, (c) => this.adopt(c));
  }

  /** Attaches recording handlers to `c` and makes it the connection under test. */
  adopt(c: Connection): Connection {
    this.conn = c;
    c.setHandlers({
      onEstablished: () => this.events.push('established'),
      onData: (b, off, len) => void this.received.push(Buffer.from(b.subarray(off, off + len))),
      onEnd: () => this.events.push('end'),
      onWritable: () => this.events.push('writable'),
      onClose: (r: CloseReason) => this.events.push(`close:${r}`),
    });
    return c;
  }

  get now(): number {
    return this.sched.clock.now();
  }

  /** Moves the clock forward by `ms`, firing timers. */
  advance(ms: number): void {
    this.sched.advance(ms);
  }

  /** Moves the clock to `t` (ms) if it is later. */
  at(t: number): void {
    if (t > this.now) this.sched.advance(t - this.now);
  }

  /** A guest segment with template defaults: GUEST → REMOTE, ACK, seq REMOTE_SEQ+1, ack LOCAL_SEQ+1. */
  seg(s: SegSpec = {}) {
    return frame({
      srcIp: GUEST_IP,
      dstIp: REMOTE_IP,
      srcPort: GUEST_PORT,
      dstPort: REMOTE_PORT,
      seq: this.remoteSeq + 1,
      ack: this.localSeq + 1,
      flags: ACK,
      window: 65535,
      ...s,
    });
  }

  /** Feeds a guest segment (at time `t` if given), then flushes like the end of a turn. */
  send(s: SegSpec, t?: number): void {
    if (t !== undefined) this.at(t);
    this.ep.input(this.seg(s));
    this.ep.flush();
  }

  /** Feeds several segments in one turn (one flush at the end). */
  sendBatch(list: SegSpec[], t?: number): void {
    if (t !== undefined) this.at(t);
    for (const s of list) this.ep.input(this.seg(s));
    this.ep.flush();
  }

  /** Asserts that exactly `list` was sent since the last check (template: REMOTE → GUEST, ACK). */
  expect(list: Expected[], msg = ''): Captured[] {
    const got = this.out.take();
    const want = list.map((e) =>
      describe({
        seq: this.localSeq + 1,
        ack: this.remoteSeq + 1,
        flags: ACK,
        window: 65535,
        payloadLen: e.payload === undefined ? 0 : typeof e.payload === 'string' ? Buffer.byteLength(e.payload) : e.payload.length,
        ...e,
      }),
    );
    assert.equal(got.map(describeCaptured), want, msg);
    for (const g of got) {
      assert.is(g.srcIp, REMOTE_IP, 'segments come from the impersonated remote');
      assert.is(g.dstIp, GUEST_IP, 'segments go to the guest');
    }
    return got;
  }

  /** Asserts nothing was sent since the last check. */
  expectNothing(msg = 'expected silence'): void {
    assert.equal(this.out.take().map(describeCaptured), [], msg);
  }

  /** Asserts the connection's state by RFC name. */
  expectState(s: State): void {
    assert.ok(this.conn !== undefined, 'no connection');
    assert.is(formatState(this.conn!.state), formatState(s));
  }

  /** All delivered bytes as one string. */
  data(): string {
    return Buffer.concat(this.received).toString('latin1');
  }

  // ------------------------------------------------------------------ state factories

  /** Guest SYN (MSS 1460 plus `synOpts`) → our SYN-ACK. Leaves the capture empty. */
  synReceived(synOpts: SegSpec = {}): void {
    this.send({ flags: SYN, seq: this.remoteSeq, ack: 0, mss: 1460, ...synOpts });
    this.out.take();
  }

  /** Handshake completed; capture empty. */
  established(synOpts: SegSpec = {}, ackOpts: SegSpec = {}): Connection {
    this.synReceived(synOpts);
    this.send({ ...ackOpts });
    this.out.take();
    this.events.length = 0;
    if (this.conn === undefined) throw new Error('fixture: no connection accepted');
    return this.conn;
  }

  /** Established, then we shut down: our FIN is out (seq LOCAL+1). */
  finWait1(): Connection {
    const c = this.established();
    c.shutdown();
    this.ep.flush();
    this.out.take();
    this.events.length = 0;
    return c;
  }

  /** FIN-WAIT-1 and the guest ACKed our FIN. */
  finWait2(): Connection {
    const c = this.finWait1();
    this.send({ ack: this.localSeq + 2 });
    this.out.take();
    this.events.length = 0;
    return c;
  }

  /** Established, then the guest's FIN was ACKed. */
  closeWait(): Connection {
    const c = this.established();
    this.send({ flags: FIN | ACK });
    this.out.take();
    this.events.length = 0;
    return c;
  }

  /** CLOSE-WAIT, then we shut down: our FIN is out. */
  lastAck(): Connection {
    const c = this.closeWait();
    c.shutdown();
    this.ep.flush();
    this.out.take();
    this.events.length = 0;
    return c;
  }

  /** FIN-WAIT-1 and the guest's own FIN crossed ours (it does not ACK our FIN). */
  closing(): Connection {
    const c = this.finWait1();
    this.send({ flags: FIN | ACK, ack: this.localSeq + 1 });
    this.out.take();
    this.events.length = 0;
    return c;
  }

  /** FIN-WAIT-2 and the guest's FIN arrived. */
  timeWait(): Connection {
    const c = this.finWait2();
    this.send({ flags: FIN | ACK, ack: this.localSeq + 2 });
    this.out.take();
    this.events.length = 0;
    return c;
  }

  /** Our active open toward the guest: SYN-SENT, SYN captured and discarded. */
  synSent(): Connection {
    const r = this.ep.connect({ localIp: REMOTE_IP, localPort: REMOTE_PORT, remoteIp: GUEST_IP, remotePort: GUEST_PORT });
    if (r.isErr()) throw new Error(r.error.message);
    this.adopt(r.value);
    this.ep.flush();
    this.events.length = 0;
    this.out.take();
    return r.value;
  }
}
