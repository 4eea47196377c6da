import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  COMMAND_SIZE,
  decodeCommand,
  decodeInit,
  decodeResponse,
  encodeCommand,
  encodeInit,
  encodeResponse,
  INIT_SIZE,
  RESPONSE_SIZE,
  VPNKIT_SERVER_INIT,
} from '../../../src/transports/vmnet/messages.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const UUID = 'c3d68012-0208-11ea-9fd7-f2189899ab08';

test('server Init matches the protocols.md §1.3 hex', () => {
  const expected = Buffer.concat([hex('56 4d 4e 33 54 16 00 00 00'), Buffer.from('0123456789'.repeat(4), 'ascii')]);
  assert.is(expected.length, INIT_SIZE);
  const got = encodeInit()._unsafeUnwrap();
  assert.equal(got, expected);
  assert.equal(decodeInit(expected)._unsafeUnwrap(), { ...VPNKIT_SERVER_INIT });
});

test('Init decodes any version and magic; a short buffer is truncated', () => {
  const b = encodeInit({ magic: 'VMNET', version: 21, commit: '\0'.repeat(40) })._unsafeUnwrap();
  assert.equal(b.subarray(5, 9), hex('15 00 00 00'));
  assert.equal(decodeInit(b)._unsafeUnwrap(), { magic: 'VMNET', version: 21, commit: '\0'.repeat(40) });
  const e = decodeInit(b.subarray(0, 48))._unsafeUnwrapErr();
  assert.is(e.kind, 'truncated');
  assert.equal({ expected: e.expected, received: e.received }, { expected: 49, received: 48 });
  assert.is(encodeInit({ magic: 'VMN3', version: 22, commit: '' })._unsafeUnwrapErr().kind, 'invalid-argument');
  assert.is(encodeInit({ magic: 'VMN3T', version: -1, commit: '' })._unsafeUnwrapErr().kind, 'invalid-argument');
  assert.is(encodeInit({ magic: 'VMN3T', version: 22, commit: 'x'.repeat(41) })._unsafeUnwrapErr().kind, 'invalid-argument');
});

test('Ethernet command for the §1.4 example UUID', () => {
  const expected = Buffer.concat([hex('01'), Buffer.from(UUID, 'ascii'), hex('00 00 00 00')]);
  assert.is(expected.length, COMMAND_SIZE);
  assert.equal(encodeCommand({ type: 'ethernet', uuid: UUID })._unsafeUnwrap(), expected);
  assert.equal(decodeCommand(expected)._unsafeUnwrap(), { type: 'ethernet', uuid: UUID });
  // Bytes 37..40 of an Ethernet command are ignored.
  const noisy = Buffer.from(expected);
  noisy.writeUInt32LE(0xdeadbeef, 37);
  assert.equal(decodeCommand(noisy)._unsafeUnwrap(), { type: 'ethernet', uuid: UUID });
});

test('UUIDs are canonicalised to lowercase both ways', () => {
  const upper = Buffer.concat([hex('01'), Buffer.from(UUID.toUpperCase(), 'ascii'), hex('00000000')]);
  assert.equal(decodeCommand(upper)._unsafeUnwrap(), { type: 'ethernet', uuid: UUID });
  const enc = encodeCommand({ type: 'ethernet', uuid: UUID.toUpperCase() })._unsafeUnwrap();
  assert.is(enc.toString('ascii', 1, 37), UUID);
});

test('Preferred_ipv4 sends 192.168.65.10 as 0a 41 a8 c0 (the LE trap)', () => {
  const ip = 0xc0a8410a;
  const b = encodeCommand({ type: 'preferred-ipv4', uuid: UUID, ip })._unsafeUnwrap();
  assert.is(b[0], 8);
  assert.is(b.toString('ascii', 1, 37), UUID);
  assert.equal(b.subarray(37, 41), hex('0a 41 a8 c0'));
  assert.equal(decodeCommand(b)._unsafeUnwrap(), { type: 'preferred-ipv4', uuid: UUID, ip });
  assert.is(encodeCommand({ type: 'preferred-ipv4', uuid: UUID, ip: -1 })._unsafeUnwrapErr().kind, 'invalid-argument');
  assert.is(encodeCommand({ type: 'preferred-ipv4', uuid: UUID, ip: 2 ** 32 })._unsafeUnwrapErr().kind, 'invalid-argument');
});

test('36 NUL bytes mean "generate a UUID", for both commands; the all-zero text UUID does not', () => {
  const eth = encodeCommand({ type: 'ethernet', uuid: null })._unsafeUnwrap();
  assert.equal(eth, Buffer.concat([hex('01'), Buffer.alloc(40)]));
  assert.equal(decodeCommand(eth)._unsafeUnwrap(), { type: 'ethernet', uuid: null });
  const pref = encodeCommand({ type: 'preferred-ipv4', uuid: null, ip: 0x0a000001 })._unsafeUnwrap();
  assert.equal(decodeCommand(pref)._unsafeUnwrap(), { type: 'preferred-ipv4', uuid: null, ip: 0x0a000001 });
  const zeroText = '00000000-0000-0000-0000-000000000000';
  const z = encodeCommand({ type: 'ethernet', uuid: zeroText })._unsafeUnwrap();
  assert.equal(decodeCommand(z)._unsafeUnwrap(), { type: 'ethernet', uuid: zeroText });
});

test('every command code other than 1 and 8 is unknown, including vmnetd Bind_ipv4 (6)', () => {
  const b = encodeCommand({ type: 'ethernet', uuid: UUID })._unsafeUnwrap();
  let unknown = 0;
  for (let code = 0; code < 256; code++) {
    b[0] = code;
    const r = decodeCommand(b);
    if (code === 1 || code === 8) {
      assert.ok(r.isOk(), `code ${code}`);
      continue;
    }
    const e = r._unsafeUnwrapErr();
    assert.is(e.kind, 'unknown-command');
    if (e.kind === 'unknown-command') assert.is(e.code, code);
    unknown++;
  }
  assert.is(unknown, 254);
});

test('UUID text that does not parse is bad-uuid', () => {
  const cases = [
    'not-a-uuid-at-all-not-a-uuid-at-all!',
    'c3d68012x0208-11ea-9fd7-f2189899ab08',
    'c3d68012-0208-11ea-9fd7-f2189899ab0g',
    '{3d68012-0208-11ea-9fd7-f2189899ab08',
    'c3d680120208011ea09fd70f2189899ab08a',
    'c3d68012-0208-11ea-9fd7-f2189899ab0\0',
    '\0'.repeat(35) + 'a',
  ];
  for (const text of cases) {
    assert.is(text.length, 36, text);
    const b = Buffer.concat([hex('01'), Buffer.from(text, 'latin1'), Buffer.alloc(4)]);
    const e = decodeCommand(b)._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-uuid', text);
    if (e.kind === 'bad-uuid') assert.is(e.text, text);
  }
  assert.is(encodeCommand({ type: 'ethernet', uuid: 'nope' })._unsafeUnwrapErr().kind, 'bad-uuid');
  assert.is(decodeCommand(Buffer.alloc(40))._unsafeUnwrapErr().kind, 'truncated');
});

test('Vif response matches the §1.5 example (MTU 1500, MAC 02:50:00:00:00:01)', () => {
  const expected = Buffer.concat([hex('01 dc 05 0e 06 02 50 00 00 00 01'), Buffer.alloc(247)]);
  assert.is(expected.length, RESPONSE_SIZE);
  const mac = hex('02 50 00 00 00 01');
  assert.equal(encodeResponse({ type: 'vif', mtu: 1500, maxPacketSize: 1550, mac })._unsafeUnwrap(), expected);
  const r = decodeResponse(expected)._unsafeUnwrap();
  assert.equal(r, { type: 'vif', mtu: 1500, maxPacketSize: 1550, mac });
  // The decoded MAC is a copy, not a view of the input.
  expected[5] = 0xff;
  if (r.type === 'vif') assert.is(r.mac[0], 0x02);
});

test('Vif encoder refuses values that do not fit', () => {
  const mac = Buffer.alloc(6, 1);
  for (const bad of [
    { mtu: 0, maxPacketSize: 1550, mac },
    { mtu: 70000, maxPacketSize: 1550, mac },
    { mtu: 1500, maxPacketSize: 65536, mac },
    { mtu: 1500.5, maxPacketSize: 1550, mac },
    { mtu: 1500, maxPacketSize: 1550, mac: Buffer.alloc(5) },
  ]) {
    assert.is(encodeResponse({ type: 'vif', ...bad })._unsafeUnwrapErr().kind, 'invalid-argument');
  }
});

test('Disconnect carries u8 length + reason, zero padded; long reasons cut at a character boundary', () => {
  const reason = 'No IP addresses available.';
  const b = encodeResponse({ type: 'disconnect', reason })._unsafeUnwrap();
  assert.is(b.length, RESPONSE_SIZE);
  assert.is(b[0], 2);
  assert.is(b[1], reason.length);
  assert.is(b.toString('ascii', 2, 2 + reason.length), reason);
  assert.ok(b.subarray(2 + reason.length).every((x) => x === 0));
  assert.equal(decodeResponse(b)._unsafeUnwrap(), { type: 'disconnect', reason });

  const long = 'x'.repeat(254) + 'é' + 'y'.repeat(10); // 'é' is 2 bytes and straddles byte 255
  const lb = encodeResponse({ type: 'disconnect', reason: long })._unsafeUnwrap();
  assert.is(lb[1], 254);
  assert.equal(decodeResponse(lb)._unsafeUnwrap(), { type: 'disconnect', reason: 'x'.repeat(254) });
  const exact = 'z'.repeat(300);
  assert.equal(decodeResponse(encodeResponse({ type: 'disconnect', reason: exact })._unsafeUnwrap())._unsafeUnwrap(), {
    type: 'disconnect',
    reason: 'z'.repeat(255),
  });
});

test('any other response type is unknown; a short response is truncated', () => {
  for (const type of [0, 3, 6, 255]) {
    const b = Buffer.alloc(RESPONSE_SIZE);
    b[0] = type;
    const e = decodeResponse(b)._unsafeUnwrapErr();
    assert.is(e.kind, 'unknown-response');
    if (e.kind === 'unknown-response') assert.is(e.type, type);
  }
  assert.is(decodeResponse(Buffer.alloc(257, 1))._unsafeUnwrapErr().kind, 'truncated');
});

test('decoders never throw on arbitrary bytes (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
      decodeInit(bytes);
      decodeCommand(bytes);
      decodeResponse(bytes);
    }),
  );
});

test('decoders work on views at an offset into a larger buffer', () => {
  const cmd = encodeCommand({ type: 'preferred-ipv4', uuid: UUID, ip: 0x01020304 })._unsafeUnwrap();
  const big = Buffer.concat([Buffer.alloc(7, 0xaa), cmd, Buffer.alloc(3, 0xbb)]);
  assert.equal(decodeCommand(big.subarray(7))._unsafeUnwrap(), { type: 'preferred-ipv4', uuid: UUID, ip: 0x01020304 });
});

test('command and response round-trip (property)', () => {
  const uuidArb = fc.option(fc.uuid(), { nil: null });
  fc.assert(
    fc.property(uuidArb, fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), (uuid, ip) => {
      const cmd = ip === undefined ? ({ type: 'ethernet', uuid } as const) : ({ type: 'preferred-ipv4', uuid, ip } as const);
      const back = decodeCommand(encodeCommand(cmd)._unsafeUnwrap())._unsafeUnwrap();
      assert.equal(back, { ...cmd, uuid: uuid === null ? null : uuid.toLowerCase() });
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }), fc.uint8Array({ minLength: 6, maxLength: 6 }), (mtu, maxPacketSize, mac) => {
      const back = decodeResponse(encodeResponse({ type: 'vif', mtu, maxPacketSize, mac })._unsafeUnwrap())._unsafeUnwrap();
      assert.equal(back, { type: 'vif', mtu, maxPacketSize, mac: Buffer.from(mac) });
    }),
  );
});

test.run();
