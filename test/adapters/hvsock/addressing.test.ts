import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AF_HYPERV,
  decodeSockaddrHv,
  encodeSockaddrHv,
  HV_VM_IDS,
  isTemplateServiceId,
  LEGACY_SERVICE_IDS,
  MAX_VSOCK_PORT,
  portForServiceId,
  SOCKADDR_HV_SIZE,
  serviceIdForPort,
} from '../../../adapters/hvsock/addressing.js';
import { guidFromBytes, guidToBytes, parseGuid, type Guid } from '../../../adapters/hvsock/guid.js';

const g = (s: string): Guid => parseGuid(s)._unsafeUnwrap();

test('protocols.md §2.1 examples: 62373 ⇄ 0000f3a5-FACB-…, 1024 ⇄ 00000400-FACB-…', () => {
  assert.is(serviceIdForPort(62373)._unsafeUnwrap(), g('0000f3a5-FACB-11E6-BD58-64006A7986D3'));
  assert.is(serviceIdForPort(1024)._unsafeUnwrap(), g('00000400-FACB-11E6-BD58-64006A7986D3'));
  assert.is(serviceIdForPort(1024)._unsafeUnwrap(), '00000400-facb-11e6-bd58-64006a7986d3');
  assert.is(portForServiceId(g('0000F3A5-facb-11e6-BD58-64006a7986d3'))._unsafeUnwrap(), 62373);
  assert.is(serviceIdForPort(0)._unsafeUnwrap(), '00000000-facb-11e6-bd58-64006a7986d3');
  assert.is(serviceIdForPort(MAX_VSOCK_PORT)._unsafeUnwrap(), 'ffffffff-facb-11e6-bd58-64006a7986d3');
});

test('property: every port 0..2^32-1 round-trips through its service GUID', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_VSOCK_PORT }), (port) => {
      const guid = serviceIdForPort(port)._unsafeUnwrap();
      return isTemplateServiceId(guid) && portForServiceId(guid)._unsafeUnwrap() === port;
    }),
    { numRuns: 20_000 },
  );
});

test('out-of-range and non-integer ports are rejected with invalid-address', () => {
  for (const p of [-1, MAX_VSOCK_PORT + 1, 1.5, Number.NaN, Infinity]) {
    const r = serviceIdForPort(p);
    assert.ok(r.isErr(), `port ${p}`);
    assert.is(r._unsafeUnwrapErr().kind, 'invalid-address');
  }
});

test('non-template GUIDs (legacy services, VM ids) have no vsock port', () => {
  for (const guid of [LEGACY_SERVICE_IDS.ethernet, LEGACY_SERVICE_IDS.ports, HV_VM_IDS.parent]) {
    const r = portForServiceId(guid);
    assert.ok(r.isErr());
    assert.match(r._unsafeUnwrapErr().message, /only for AF_HYPERV on Windows/);
  }
});

test('GUID parsing: case-insensitive, braces allowed, canonical lowercase out', () => {
  assert.is(parseGuid('30D48B34-7D27-4B0B-AAAF-BBBED334DD59')._unsafeUnwrap(), '30d48b34-7d27-4b0b-aaaf-bbbed334dd59');
  assert.is(parseGuid('{0B95756A-9985-48ad-9470-78E060895BE7}')._unsafeUnwrap(), '0b95756a-9985-48ad-9470-78e060895be7');
  assert.is(parseGuid(' a42e7cda-d03f-480c-9cc2-a4de20abb878 ')._unsafeUnwrap(), HV_VM_IDS.parent);
});

test('bad GUIDs are rejected cleanly', () => {
  const bad = [
    '',
    '30D48B34-7D27-4B0B-AAAF-BBBED334DD5', // short
    '30D48B34-7D27-4B0B-AAAF-BBBED334DD599', // long
    '30D48B347D274B0BAAAFBBBED334DD59', // no dashes
    '30D48B34-7D27-4B0B-AAAF-BBBED334DDZ9', // not hex
    '30D48B34-7D27-4B0B-AAAFBBBED334-DD59', // dash misplaced
    '{30D48B34-7D27-4B0B-AAAF-BBBED334DD59', // unbalanced brace
    'parent',
  ];
  for (const s of bad) {
    const r = parseGuid(s);
    assert.ok(r.isErr(), JSON.stringify(s));
    assert.is(r._unsafeUnwrapErr().kind, 'invalid-address');
    assert.is(r._unsafeUnwrapErr().input, s);
  }
});

test('Windows memory order swaps Data1/Data2/Data3 (known vector)', () => {
  const win = Buffer.from(guidToBytes(LEGACY_SERVICE_IDS.ethernet, 'windows')).toString('hex');
  assert.is(win, '348bd430277d0b4baaafbbbed334dd59');
  const rfc = Buffer.from(guidToBytes(LEGACY_SERVICE_IDS.ethernet, 'rfc4122')).toString('hex');
  assert.is(rfc, '30d48b347d274b0baaafbbbed334dd59');
});

test('property: 16 random bytes ⇄ GUID in both byte orders', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.constantFrom('rfc4122' as const, 'windows' as const), (bytes, order) => {
      const guid = guidFromBytes(bytes, order)._unsafeUnwrap();
      return parseGuid(guid)._unsafeUnwrap() === guid && Buffer.from(guidToBytes(guid, order)).equals(Buffer.from(bytes));
    }),
  );
});

test('guidFromBytes: short input is an error, not a throw', () => {
  assert.ok(guidFromBytes(new Uint8Array(15)).isErr());
  assert.ok(guidFromBytes(new Uint8Array(20), 'rfc4122', 5).isErr());
  assert.ok(guidFromBytes(new Uint8Array(20), 'rfc4122', 4).isOk());
});

test('SOCKADDR_HV: 36 bytes, family LE, zero reserved, GUIDs in Windows order (known vector)', () => {
  const sa = encodeSockaddrHv(HV_VM_IDS.wildcard, serviceIdForPort(62373)._unsafeUnwrap());
  assert.is(sa.length, SOCKADDR_HV_SIZE);
  assert.is(
    Buffer.from(sa).toString('hex'),
    '2200' + '0000' + '00'.repeat(16) + 'a5f30000' + 'cbfa' + 'e611' + 'bd5864006a7986d3',
  );
  const legacy = encodeSockaddrHv(HV_VM_IDS.parent, LEGACY_SERVICE_IDS.ports, AF_HYPERV.linuxLegacy);
  assert.is(legacy[0], 43);
  const d = decodeSockaddrHv(legacy)._unsafeUnwrap();
  assert.equal(d, { family: 43, reserved: 0, vmId: HV_VM_IDS.parent, serviceId: LEGACY_SERVICE_IDS.ports });
});

test('SOCKADDR_HV: short buffers are rejected; property round trip', () => {
  assert.ok(decodeSockaddrHv(new Uint8Array(35)).isErr());
  assert.is(decodeSockaddrHv(new Uint8Array(0))._unsafeUnwrapErr().kind, 'invalid-address');
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 36, maxLength: 48 }), (bytes) => {
      const d = decodeSockaddrHv(bytes)._unsafeUnwrap();
      const again = encodeSockaddrHv(d.vmId, d.serviceId, d.family);
      // reserved is always written as zero; everything else must match byte for byte
      return Buffer.from(again.subarray(4)).equals(Buffer.from(bytes.subarray(4, 36))) && again[0] === bytes[0] && again[1] === bytes[1];
    }),
  );
});

test('well-known VM ids (protocols.md §2.1)', () => {
  assert.is(HV_VM_IDS.wildcard, '00000000-0000-0000-0000-000000000000');
  assert.is(HV_VM_IDS.broadcast, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
  assert.is(HV_VM_IDS.children, '90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd');
  assert.is(HV_VM_IDS.loopback, 'e0e16197-dd56-4a10-9195-5ee7a155a838');
  assert.is(HV_VM_IDS.parent, 'a42e7cda-d03f-480c-9cc2-a4de20abb878');
});

test.run();
