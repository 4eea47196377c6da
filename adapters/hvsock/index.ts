/**
 * Hyper-V socket / vsock transports for vnetkit (issue "Hyper-V socket transport"):
 * addressing (GUIDs, ports, SOCKADDR_HV, URIs), the {@link VsockProvider} interface and its
 * AF_VSOCK, AF_HYPERV, hybrid vsock, hyperkit and Unix implementations, and port forwarding.
 * See README.md in this directory for what was tested where.
 * @module
 */
export * from './addressing.js';
export * from './errors.js';
export * from './forward.js';
export * from './guid.js';
export { readExact, readLine, type ReadTiming } from './handshake-reader.js';
export * from './hybrid-vsock.js';
export * from './hyperkit-vsock.js';
export * from './listener.js';
export * from './native-providers.js';
export * from './pipe-streams.js';
export * from './provider.js';
export * from './unix-providers.js';
export * from './uri.js';
export * from './ethernet.js';
