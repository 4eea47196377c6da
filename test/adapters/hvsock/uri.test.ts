import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HV_VM_IDS, LEGACY_SERVICE_IDS, serviceIdForPort, VSOCK_CID } from '../../../adapters/hvsock/addressing.js';
import { formatVsockUri, parseVsockUri, type VsockAddress } from '../../../adapters/hvsock/uri.js';

const VM = '8d5f6c7e-1f2a-4b3c-9d4e-5f6a7b8c9d0e';
const parse = (s: string) => parseVsockUri(s)._unsafeUnwrap();

test('hyperv-connect / hyperv-listen: service defaults to the legacy ethernet GUID', () => {
  assert.equal(parse(`hyperv-connect://${VM}`), { address: { transport: 'hyperv', vmId: VM, serviceId: LEGACY_SERVICE_IDS.ethernet }, mode: 'connect' });
  assert.equal(parse(`hyperv-listen://${VM.toUpperCase()}/0B95756A-9985-48AD-9470-78E060895BE7`), {
    address: { transport: 'hyperv', vmId: VM, serviceId: LEGACY_SERVICE_IDS.ports },
    mode: 'listen',
  });
  const ports = parseVsockUri(`hyperv-connect://${VM}`, { defaultServiceId: LEGACY_SERVICE_IDS.ports })._unsafeUnwrap();
  assert.is(ports.address.transport === 'hyperv' && ports.address.serviceId, LEGACY_SERVICE_IDS.ports);
});

test('hvsock:// needs a service; a decimal service maps through the port template; VM aliases', () => {
  assert.equal(parse(`hvsock://parent/62373`).address, { transport: 'hyperv', vmId: HV_VM_IDS.parent, serviceId: serviceIdForPort(62373)._unsafeUnwrap() });
  assert.ok(parseVsockUri(`hvsock://${VM}`).isErr());
  assert.is(parse('hyperv-listen://wildcard').address.transport, 'hyperv');
});

test('vsock://[CID]:PORT', () => {
  assert.equal(parse('vsock://:1024').address, { transport: 'vsock', cid: VSOCK_CID.any, port: 1024 });
  assert.equal(parse('vsock://3:62373').address, { transport: 'vsock', cid: 3, port: 62373 });
  assert.equal(parse('VSOCK://2:4294967295').address, { transport: 'vsock', cid: 2, port: 4294967295 });
});

test('hyperkit://[CID]:PORT/<dir> (CID defaults to 3) and hybrid-vsock://:PORT/<uds>', () => {
  assert.equal(parse('hyperkit://:62373/Users/me/Library/vsock').address, { transport: 'hyperkit', dir: '/Users/me/Library/vsock', cid: 3, port: 62373 });
  assert.equal(parse('hyperkit://5:80/tmp/d').address, { transport: 'hyperkit', dir: '/tmp/d', cid: 5, port: 80 });
  assert.equal(parse('hybrid-vsock://:52/run/fc/v.sock').address, { transport: 'hybrid', udsPath: '/run/fc/v.sock', port: 52 });
});

test('unix:<path>, unix://<path>, bare absolute path', () => {
  assert.equal(parse('unix:/var/run/x.sock').address, { transport: 'unix', path: '/var/run/x.sock' });
  assert.equal(parse('unix:///var/run/x.sock').address, { transport: 'unix', path: '/var/run/x.sock' });
  assert.equal(parse('unix:rel.sock').address, { transport: 'unix', path: 'rel.sock' });
  assert.equal(parse('/abs/x.sock').address, { transport: 'unix', path: '/abs/x.sock' });
});

test('clear errors: unknown schemes, bad GUIDs, out-of-range ports, missing parts', () => {
  const cases: Array<[string, RegExp]> = [
    ['tcp://1.2.3.4:80', /unknown scheme 'tcp'/],
    ['nonsense', /not a transport URI/],
    ['hyperv-connect://not-a-guid', /VM id 'not-a-guid' is not a GUID/],
    ['hyperv-connect://MyVmName', /VM names need a Windows lookup/],
    [`hyperv-connect://${VM}/zz`, /service id 'zz' is not a GUID or a decimal vsock port/],
    [`hyperv-connect://${VM}/1/2`, /unexpected path/],
    ['hyperv-listen://', /missing VM id/],
    ['vsock://:4294967296', /out of range/],
    ['vsock://:-1', /not a decimal number/],
    ['vsock://3', /expected \[CID\]:PORT/],
    ['vsock://x:5', /CID 'x' is not a decimal/],
    ['vsock://:5/path', /takes no path/],
    ['hyperkit://:62373', /missing the hyperkit vsock directory/],
    ['hybrid-vsock://3:52/x', /carries no CID/],
    ['hybrid-vsock://:52', /missing the VMM socket path/],
    ['unix:', /empty Unix socket path/],
  ];
  for (const [input, re] of cases) {
    const r = parseVsockUri(input);
    assert.ok(r.isErr(), input);
    assert.is(r._unsafeUnwrapErr().kind, 'invalid-address');
    assert.match(r._unsafeUnwrapErr().message, re, input);
  }
});

test('property: formatVsockUri output parses back to the same address', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const path = fc.stringMatching(/^(\/[a-z0-9._-]{1,12}){1,4}$/);
  const guidArb = fc.uuid().map((s) => s.toLowerCase());
  const addr: fc.Arbitrary<VsockAddress> = fc.oneof(
    fc.record({ transport: fc.constant('vsock' as const), cid: u32, port: u32 }),
    fc.record({ transport: fc.constant('hyperkit' as const), dir: path, cid: u32, port: u32 }),
    fc.record({ transport: fc.constant('hybrid' as const), udsPath: path, port: u32 }),
    fc.record({ transport: fc.constant('unix' as const), path }),
    fc.record({ transport: fc.constant('hyperv' as const), vmId: guidArb, serviceId: guidArb }) as fc.Arbitrary<VsockAddress>,
  );
  fc.assert(
    fc.property(addr, fc.constantFrom(undefined, 'connect' as const, 'listen' as const), (a, mode) => {
      const back = parseVsockUri(formatVsockUri(a, mode))._unsafeUnwrap();
      assert.equal(back.address, { ...a }); // spread: fast-check records have a null prototype
      return true;
    }),
  );
});

test.run();
