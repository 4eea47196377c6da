/**
 * {@link VsockProvider}s over the native addon: AF_VSOCK (Linux) and AF_HYPERV (Windows,
 * untested). Both return `native-unavailable` with the loader's reason when the addon is
 * missing, so callers can fall back to a Unix-socket transport.
 * @module
 */
import type { Duplex } from 'node:stream';
import { err, errAsync, ok, okAsync, ResultAsync, type Result } from 'neverthrow';
import { vnetError } from '../../src/errors.js';
import { FdStream } from '../../src/native/fd-stream.js';
import { loadNative, type NativeAddon, type NativeUnavailable } from '../../src/native/index.js';
import type { FdHandle, PendingConnect } from '../../src/native/native-addon.js';
import { osError, UV_EAGAIN } from '../../src/native/os-error.js';
import { guidFromBytes, guidToBytes } from './guid.js';
import { invalidAddress, type HvsockError } from './errors.js';
import { VsockListener, type VsockPeer } from './listener.js';
import type { VsockProvider } from './provider.js';
import { formatVsockUri, type VsockAddress } from './uri.js';

/** Options shared by the native providers. */
export interface NativeProviderOptions {
  /** listen() backlog; default 16. */
  readonly backlog?: number;
  /** Addon loader (tests inject failures); default `loadNative` (src/native). */
  readonly load?: () => Result<NativeAddon, NativeUnavailable>;
}

function wrongTransport(a: VsockAddress, want: string): HvsockError {
  return invalidAddress(formatVsockUri(a), `the ${want} provider cannot serve a '${a.transport}' address`);
}

/** Starts an accept loop on a listening handle: drains `accept` until EAGAIN on each wakeup. */
function acceptLoop(
  native: NativeAddon,
  handle: FdHandle,
  listener: VsockListener,
  accept: (fd: number) => { fd: number; peer: VsockPeer } | number,
): number {
  return handle.startReading(() => {
    for (let i = 0; i < 64 && !listener.isClosed; i++) {
      const r = accept(handle.fd());
      if (r === UV_EAGAIN) return;
      if (typeof r === 'number') {
        // EMFILE, ECONNABORTED…: report and wait for the next wakeup rather than spin.
        listener.report(osError('accept', r, formatVsockUri(listener.address)));
        return;
      }
      listener.deliver(new FdStream(new native.FdHandle(r.fd)), r.peer);
    }
  });
}

/** Resolves a native non-blocking connect into a stream (waits for writability, reads SO_ERROR). */
function completeConnect(native: NativeAddon, r: PendingConnect | number, what: string): ResultAsync<Duplex, HvsockError> {
  if (typeof r === 'number') return errAsync(osError('connect', r, what));
  const handle = new native.FdHandle(r.fd);
  if (!r.pending) return okAsync(new FdStream(handle));
  return new ResultAsync(
    new Promise<Result<Duplex, HvsockError>>((resolve) => {
      const armed = handle.awaitWritable(() => {
        const e = handle.socketError();
        if (e < 0) {
          handle.close();
          resolve(err(osError('connect', e, what)));
        } else {
          resolve(ok(new FdStream(handle)));
        }
      });
      if (armed < 0) {
        handle.close();
        resolve(err(osError('poll', armed, what)));
      }
    }),
  );
}

/** AF_VSOCK through the addon: `vsock://[CID]:PORT` addresses. */
export class AfVsockProvider implements VsockProvider {
  readonly name = 'af-vsock';
  constructor(private readonly options: NativeProviderOptions = {}) {}

  listen(a: VsockAddress): ResultAsync<VsockListener, HvsockError> {
    if (a.transport !== 'vsock') return errAsync(wrongTransport(a, 'AF_VSOCK'));
    const loaded = (this.options.load ?? loadNative)();
    if (loaded.isErr()) return errAsync(loaded.error);
    const native = loaded.value;
    const fd = native.vsockListen(a.cid, a.port, this.options.backlog ?? 16);
    if (fd < 0) return errAsync(osError('vsock listen', fd, formatVsockUri(a)));
    const name = native.getsockname(fd);
    const bound: VsockAddress = typeof name === 'object' && name.family === 'vsock' ? { transport: 'vsock', cid: a.cid, port: name.port } : a;
    const handle = new native.FdHandle(fd);
    const listener = new VsockListener(bound, async () => void handle.close());
    const started = acceptLoop(native, handle, listener, (lfd) => {
      const r = native.vsockAccept(lfd);
      return typeof r === 'number' ? r : { fd: r.fd, peer: { transport: 'vsock', cid: r.cid, port: r.port } };
    });
    if (started < 0) {
      handle.close();
      return errAsync(osError('poll', started, formatVsockUri(a)));
    }
    return okAsync(listener);
  }

  connect(a: VsockAddress): ResultAsync<Duplex, HvsockError> {
    if (a.transport !== 'vsock') return errAsync(wrongTransport(a, 'AF_VSOCK'));
    const loaded = (this.options.load ?? loadNative)();
    if (loaded.isErr()) return errAsync(loaded.error);
    return completeConnect(loaded.value, loaded.value.vsockConnect(a.cid, a.port), formatVsockUri(a));
  }
}

/**
 * AF_HYPERV through the addon (Windows only; UNTESTED, see README): `hyperv-*://` and
 * `hvsock://` addresses. On Linux, a guest under Hyper-V reaches the same services through
 * AF_VSOCK with the port ⇄ GUID template, i.e. {@link AfVsockProvider}.
 */
export class AfHypervProvider implements VsockProvider {
  readonly name = 'af-hyperv';
  constructor(private readonly options: NativeProviderOptions = {}) {}

  private native(a: VsockAddress): Result<NativeAddon, HvsockError> {
    if (a.transport !== 'hyperv') return err(wrongTransport(a, 'AF_HYPERV'));
    return (this.options.load ?? loadNative)().andThen((native) =>
      native.platform === 'win32'
        ? ok(native)
        : err(vnetError('native-unavailable', 'AF_HYPERV sockets exist only on Windows hosts; a Linux guest reaches Hyper-V services with vsock:// (service GUID xxxxxxxx-facb-11e6-bd58-64006a7986d3 ⇄ port)')),
    );
  }

  listen(a: VsockAddress): ResultAsync<VsockListener, HvsockError> {
    const n = this.native(a);
    if (n.isErr()) return errAsync(n.error);
    if (a.transport !== 'hyperv') return errAsync(wrongTransport(a, 'AF_HYPERV'));
    const native = n.value;
    const fd = native.hvsockListen(guidToBytes(a.vmId, 'windows'), guidToBytes(a.serviceId, 'windows'), this.options.backlog ?? 16);
    if (fd < 0) return errAsync(osError('hvsock listen', fd, formatVsockUri(a)));
    const handle = new native.FdHandle(fd);
    const listener = new VsockListener(a, async () => void handle.close());
    const started = acceptLoop(native, handle, listener, (lfd) => {
      const r = native.hvsockAccept(lfd);
      if (typeof r === 'number') return r;
      const vmId = guidFromBytes(r.vmId, 'windows');
      const serviceId = guidFromBytes(r.serviceId, 'windows');
      const peer: VsockPeer = {
        transport: 'hyperv',
        ...(vmId.isOk() ? { vmId: vmId.value } : {}),
        ...(serviceId.isOk() ? { serviceId: serviceId.value } : {}),
      };
      return { fd: r.fd, peer };
    });
    if (started < 0) {
      handle.close();
      return errAsync(osError('poll', started, formatVsockUri(a)));
    }
    return okAsync(listener);
  }

  connect(a: VsockAddress): ResultAsync<Duplex, HvsockError> {
    const n = this.native(a);
    if (n.isErr()) return errAsync(n.error);
    if (a.transport !== 'hyperv') return errAsync(wrongTransport(a, 'AF_HYPERV'));
    const r = n.value.hvsockConnect(guidToBytes(a.vmId, 'windows'), guidToBytes(a.serviceId, 'windows'));
    return completeConnect(n.value, r, formatVsockUri(a));
  }
}
