/**
 * The host effects the DNS forwarder needs, as a narrow interface (like gvisor-tap-vsock's
 * `upstreamResolver` and vpnkit's `Sig.SOCKETS`): a UDP socket bound to one upstream server and a
 * one-shot TCP exchange. `node-transport.ts` implements it with `dgram`/`net`; unit tests pass a
 * fake that answers deterministically on a ManualScheduler. Timeouts are not the transport's
 * business: the forwarder owns every deadline and cancels what it no longer wants.
 * @module
 */
import type { Result } from 'neverthrow';
import type { VnetError } from '../../errors.js';
import type { UpstreamServer } from './resolv-conf.js';

/** Transport failures, reported to the forwarder (never thrown). */
export type DnsTransportError = VnetError<'dns-transport'> & { readonly server: string };

/** A UDP socket that exchanges datagrams with exactly one upstream server. */
export interface UpstreamUdpSocket {
  /** Sends one datagram (the bytes may be reused by the caller after the call returns). */
  send(msg: Uint8Array): void;
  /** Closes the socket; no callback runs afterwards. Idempotent. */
  close(): void;
}

/** A TCP exchange in progress. */
export interface UpstreamTcpExchange {
  /** Abandons the exchange; `done` is not called afterwards. Idempotent. */
  cancel(): void;
}

/** Host networking for the forwarder. */
export interface DnsUpstreamTransport {
  /**
   * Opens a UDP socket for `server` (a fresh ephemeral source port each time, so an off-path
   * attacker must guess the port as well as the id, RFC 5452 §9.2). `onMessage` receives each
   * datagram coming from that server (it may keep the bytes); `onError` reports a socket failure
   * such as an ICMP port unreachable, after which the socket is useless.
   */
  openUdp(server: UpstreamServer, onMessage: (msg: Uint8Array) => void, onError: (e: DnsTransportError) => void): UpstreamUdpSocket;
  /**
   * Sends `query` over a new TCP connection with the RFC 1035 §4.2.2 two-byte length prefix and
   * calls `done` once with the first framed response (without its prefix) or an error.
   */
  queryTcp(server: UpstreamServer, query: Uint8Array, done: (r: Result<Uint8Array, DnsTransportError>) => void): UpstreamTcpExchange;
}
