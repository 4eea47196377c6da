/**
 * A SYN for a 4-tuple nobody owns, held while the endpoint's `onSyn` hook decides: this is how
 * connect-first NAT works (vpnkit's `intercept_tcp`, style.md §4). The hook connects the real
 * destination and then `accept`s (SYN-ACK goes out), `refuse`s (RST, what the guest would see
 * from a closed port) or `drop`s (silence; the guest retries or times out). Until then duplicate
 * SYNs for the tuple are ignored. The request copies what it needs from the SYN, because frames
 * are borrowed and the decision comes turns later.
 * @module
 */
import type { Connection, ConnectionHandlers } from './connection.js';
import type { SynParams } from './open.js';

/** What a {@link SynRequest} needs from its endpoint. @internal */
export interface SynDecider {
  acceptSyn(req: SynRequest, handlers: ConnectionHandlers): Connection | undefined;
  refuseSyn(req: SynRequest): boolean;
  dropSyn(req: SynRequest): void;
  isPending(req: SynRequest): boolean;
}

/** A pending SYN from a guest. */
export class SynRequest {
  constructor(
    private readonly decider: SynDecider,
    /** The guest (source of the SYN). */
    readonly srcIp: number,
    readonly srcPort: number,
    /** Where the guest wants to go (we will impersonate it). */
    readonly dstIp: number,
    readonly dstPort: number,
    /** The SYN's sequence number and options. */
    readonly params: SynParams,
    /** Clock time the SYN arrived, ms. */
    readonly receivedAt: number,
  ) {}

  /**
   * Completes the handshake: creates the connection in SYN-RECEIVED and sends SYN-ACK at the end
   * of the turn. Returns undefined when the request is no longer pending (decided already, or
   * its guest was torn down meanwhile).
   */
  accept(handlers: ConnectionHandlers = {}): Connection | undefined {
    return this.decider.acceptSyn(this, handlers);
  }

  /** Answers with RST (RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>). Returns whether it was pending. */
  refuse(): boolean {
    return this.decider.refuseSyn(this);
  }

  /** Forgets the SYN without answering. */
  drop(): void {
    this.decider.dropSyn(this);
  }

  /** Whether no decision was taken yet and the guest was not torn down. */
  get pending(): boolean {
    return this.decider.isPending(this);
  }
}
