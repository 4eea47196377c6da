/**
 * AF_VSOCK through the addon. What this machine allows (see adapters/hvsock/README.md):
 * bind/listen/getsockname/accept(EAGAIN)/close work; a connect that would stay on this
 * machine cannot succeed because there is no vsock loopback transport. The test never
 * connects to CID 2 (the hypervisor host) or other CIDs, which would leave the machine.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errnoName, UV_EAGAIN } from '../../src/native/os-error.js';
import { nativeOrSkip } from './native-test-helpers.js';

const native = nativeOrSkip('test/native/vsock.test.ts');
const VMADDR_CID_ANY = 0xffffffff;
const VMADDR_PORT_ANY = 0xffffffff;

if (native !== undefined) {
  const localCid = native.vsockLocalCid();
  const vsockOk = native.vsockListen(-1, -1, 1);
  if (typeof vsockOk === 'number' && vsockOk < 0) {
    console.log(`SKIP vsock tests: AF_VSOCK listen failed here (${errnoName(vsockOk)})`);
  } else {
    native.closeFd(vsockOk);

    test('listen on VMADDR_CID_ANY with a kernel-chosen port; getsockname; accept is EAGAIN; close', () => {
      const fd = native.vsockListen(VMADDR_CID_ANY, VMADDR_PORT_ANY, 4);
      assert.ok(fd >= 0, `vsockListen: ${fd < 0 ? errnoName(fd) : fd}`);
      const name = native.getsockname(fd);
      assert.type(name, 'object');
      if (typeof name === 'object' && name.family === 'vsock') {
        assert.is(name.cid, VMADDR_CID_ANY);
        assert.ok(name.port > 1023 && name.port < VMADDR_PORT_ANY, `ephemeral port ${name.port}`);
      } else {
        assert.unreachable(`unexpected getsockname ${JSON.stringify(name)}`);
      }
      assert.is(native.vsockAccept(fd), UV_EAGAIN, 'nothing pending: non-blocking accept says EAGAIN');
      const h = new native.FdHandle(fd);
      assert.is(h.pollStatus(), 0, 'a listening vsock socket can be polled');
      assert.is(h.close(), 0);
      assert.is(native.getsockname(fd) as number < 0, true, 'descriptor is gone after close');
    });

    test('a fixed port can be bound twice only after the first socket closed', () => {
      const port = 40000 + (process.pid % 20000);
      const a = native.vsockListen(VMADDR_CID_ANY, port, 1);
      assert.ok(a >= 0, `first listen: ${errnoName(a)}`);
      const b = native.vsockListen(VMADDR_CID_ANY, port, 1);
      assert.is(errnoName(b), 'EADDRINUSE');
      native.closeFd(a);
      const c = native.vsockListen(VMADDR_CID_ANY, port, 1);
      assert.ok(c >= 0, `listen after close: ${errnoName(c)}`);
      native.closeFd(c);
    });

    test('connecting to this machine fails cleanly with an errno (no loopback transport)', () => {
      assert.ok(localCid > 2, `local CID ${localCid}`);
      const fd = native.vsockListen(VMADDR_CID_ANY, VMADDR_PORT_ANY, 1);
      const name = native.getsockname(fd);
      const port = typeof name === 'object' && 'port' in name ? name.port : 1;
      const r = native.vsockConnect(localCid, port);
      // Either an immediate negative errno, or a pending connect; never a thrown error.
      if (typeof r === 'number') {
        assert.ok(r < 0);
        assert.ok(['ENODEV', 'ECONNRESET', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH'].includes(errnoName(r)), errnoName(r));
      } else {
        native.closeFd(r.fd);
        assert.unreachable('local vsock connect unexpectedly in progress; this machine may have vsock_loopback');
      }
      native.closeFd(fd);
    });

    test('argument validation: out-of-range CID/port throws TypeError', () => {
      assert.throws(() => native.vsockListen(2 ** 32, 1, 1), TypeError);
      assert.throws(() => native.vsockConnect(3, -2), TypeError);
      assert.throws(() => native.vsockListen('x' as unknown as number, 1, 1), TypeError);
    });
  }
}

test.run();
