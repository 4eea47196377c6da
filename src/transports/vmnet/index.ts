/**
 * The HyperKit/vpnkit "vmnet" protocol, version 22 (protocols.md §1): message codecs, the
 * server and client handshakes, and the u16 LE frame codec of the frame phase.
 * @module
 */
export * from './messages.js';
export * from './handshake.js';
export { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake-common.js';
export * from './client-handshake.js';
export * from './uuid.js';
export type * from './vmnet-errors.js';
