/**
 * The client side of the vmnet handshake (protocols.md §1.2), as hyperkit's virtio-vpnkit or
 * vpnkit-tap-vsockd speak it: write Init, read the server's Init and check its magic, write the
 * Command, read the 258-byte Response. Used by tests to drive our server, and by anything that
 * attaches to a vpnkit-compatible server (vpnkit itself, gvisor-tap-vsock `--listen-vpnkit`).
 * @module
 */
import type { Duplex } from 'node:stream';
import { err, ok, ResultAsync, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import { Timer, type Scheduler } from '../../runtime/scheduler.js';
import { ExactReader } from './exact-reader.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, readFailureError, truncatedError } from './handshake-common.js';
import {
  decodeInit,
  decodeResponse,
  encodeCommand,
  encodeInit,
  INIT_SIZE,
  RESPONSE_SIZE,
  VMNET_MAGIC,
  VMNET_VERSION,
  type VmnetCommand,
  type VmnetInit,
  type VmnetVif,
} from './messages.js';
import type { VmnetHandshakeError } from './vmnet-errors.js';

/** The Init our client sends: 40 NUL commit bytes, as vpnkit-tap-vsockd does (protocols.md §1.3). */
export const CLIENT_INIT: VmnetInit = Object.freeze({
  magic: VMNET_MAGIC,
  version: VMNET_VERSION,
  commit: '\0'.repeat(40),
});

/** Options of {@link vmnetClientHandshake}. */
export interface VmnetClientOptions {
  /** Canonical UUID text, or `null` to send 36 NULs and let the server pick one (§1.4). */
  readonly uuid: string | null;
  /** Host-order u32; when present a Preferred_ipv4 command is sent instead of Ethernet (§1.4). */
  readonly preferredIp?: number;
  /** Runs the handshake deadline. */
  readonly scheduler: Scheduler;
  /** Whole-handshake deadline in ms; default 10 s. */
  readonly timeoutMs?: number;
  /**
   * `false` (default): a server version other than 22 is noted and the handshake goes on, as
   * hyperkit does. `true`: it is fatal, as in vpnkit-tap-vsockd (§1.2).
   */
  readonly strictVersion?: boolean;
  /** Our Init; default {@link CLIENT_INIT}. Tests use it to send a wrong version. */
  readonly init?: VmnetInit;
}

/** A successful handshake: the server attached us. The stream is paused, without our listeners. */
export interface VmnetClientVif {
  readonly type: 'vif';
  readonly vif: VmnetVif;
  readonly serverInit: VmnetInit;
  /** Set when the server's version differs from 22 and `strictVersion` was off. */
  readonly versionNote: string | undefined;
  /** Bytes the server sent after its Response (frames it already forwarded). */
  readonly rest: Buffer;
  readonly stream: Duplex;
}

/** The server refused us with a reason (§1.5); the stream has been closed. */
export interface VmnetClientDisconnect {
  readonly type: 'disconnect';
  readonly reason: string;
  readonly serverInit: VmnetInit;
}

/** Outcome of a client handshake that got a well-formed Response. */
export type VmnetClientResult = VmnetClientVif | VmnetClientDisconnect;

/**
 * Runs the client handshake on `stream` (a connected socket). A Disconnect is an `Ok` (the
 * protocol worked; the server said no). On any `Err` the stream has been closed. Never rejects.
 */
export function vmnetClientHandshake(stream: Duplex, opts: VmnetClientOptions): ResultAsync<VmnetClientResult, VmnetHandshakeError> {
  return new ResultAsync(run(stream, opts));
}

async function run(stream: Duplex, opts: VmnetClientOptions): Promise<Result<VmnetClientResult, VmnetHandshakeError>> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  // Validate what we will send before touching the stream.
  const command: VmnetCommand =
    opts.preferredIp === undefined
      ? { type: 'ethernet', uuid: opts.uuid }
      : { type: 'preferred-ipv4', uuid: opts.uuid, ip: opts.preferredIp };
  const cmdBytes = encodeCommand(command);
  const initBytes = encodeInit(opts.init ?? CLIENT_INIT);
  if (cmdBytes.isErr()) {
    stream.destroy();
    return err(cmdBytes.error);
  }
  if (initBytes.isErr()) {
    stream.destroy();
    return err(initBytes.error);
  }

  const reader = new ExactReader(stream);
  const timer = new Timer(() => reader.stop({ kind: 'timeout' }));
  opts.scheduler.armIn(timer, timeoutMs);
  const close = (): void => {
    opts.scheduler.disarm(timer);
    reader.abandon();
    stream.destroy();
  };
  const fail = (e: VmnetHandshakeError): Result<VmnetClientResult, VmnetHandshakeError> => {
    close();
    return err(e);
  };

  stream.write(initBytes.value);
  const serverInitBytes = await reader.read(INIT_SIZE);
  if (serverInitBytes.isErr()) return fail(readFailureError(serverInitBytes.error, 'init', INIT_SIZE, timeoutMs));
  const serverInit = decodeInit(serverInitBytes.value);
  if (serverInit.isErr()) return fail(truncatedError('init', serverInit.error));
  const { magic, version } = serverInit.value;
  // hyperkit checks the magic and gives up on a mismatch (§1.2).
  if (magic !== VMNET_MAGIC) {
    return fail(vnetError('bad-magic', `server Init magic ${JSON.stringify(magic)} is not ${VMNET_MAGIC}`, { magic }));
  }
  let versionNote: string | undefined;
  if (version !== VMNET_VERSION) {
    const message = `server speaks protocol version ${version}, we speak ${VMNET_VERSION}`;
    if (opts.strictVersion === true) return fail(vnetError('bad-version', message, { version }));
    versionNote = message;
  }

  stream.write(cmdBytes.value);
  const respBytes = await reader.read(RESPONSE_SIZE);
  if (respBytes.isErr()) return fail(readFailureError(respBytes.error, 'response', RESPONSE_SIZE, timeoutMs));
  const resp = decodeResponse(respBytes.value);
  if (resp.isErr()) return fail(resp.error.kind === 'truncated' ? truncatedError('response', resp.error) : resp.error);
  if (resp.value.type === 'disconnect') {
    close();
    return ok({ type: 'disconnect', reason: resp.value.reason, serverInit: serverInit.value });
  }
  if (reader.ended) {
    return fail(vnetError('peer-closed', 'server closed its side right after the Vif response', { phase: 'response' }));
  }
  opts.scheduler.disarm(timer);
  const { mtu, maxPacketSize, mac } = resp.value;
  const rest = reader.release();
  return ok({ type: 'vif', vif: { mtu, maxPacketSize, mac }, serverInit: serverInit.value, versionNote, rest, stream });
}
