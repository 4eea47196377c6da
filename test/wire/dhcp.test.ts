import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop } from '../../src/wire/drop.js';
import {
  BOOTP_BROADCAST_FLAG,
  BOOTP_MIN_LEN,
  BootpOp,
  dhcpChaddrMac,
  dhcpCiaddr,
  dhcpFlags,
  dhcpGiaddr,
  dhcpHostName,
  DhcpInfo,
  DhcpMessageType,
  dhcpOp,
  DhcpOption,
  DhcpOptionCursor,
  dhcpRequests,
  dhcpXid,
  formatDhcpMessageType,
  parseDhcp,
} from '../../src/wire/dhcp.js';
import {
  dhcpOpt,
  dhcpReprLength,
  emitDhcp,
  parseDhcpRepr,
  type DhcpRepr,
} from '../../src/wire/dhcp-repr.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

/** The fixed header of a BOOTREQUEST from MAC 02:50:00:00:00:01, xid 01 00 00 00, broadcast flag (RFC 2131 Figure 1). */
function header(flags = '80 00', ciaddr = '00000000'): Uint8Array {
  return cat(
    hex('01 01 06 00  01 00 00 00  00 00'),
    hex(flags),
    hex(ciaddr),
    hex('00000000 00000000 00000000'),
    hex('02 50 00 00 00 01'),
    new Uint8Array(202),
  );
}
const COOKIE = hex('63 82 53 63');

/** The vpnkit Go vmnet client's DISCOVER (protocols.md §1.7): header, cookie, 53=1, End; 244 bytes. */
const GO_DISCOVER = cat(header(), COOKIE, hex('35 01 01 ff'));

/** A busybox-udhcpc-like DISCOVER: 53, 61, 50, 12, 55, 57, End (written by hand from RFC 2132). */
const UDHCPC_DISCOVER = cat(
  header('00 00'),
  COOKIE,
  hex('35 01 01'),
  hex('3d 07 01 02 50 00 00 00 01'),
  hex('32 04 c0 a8 41 07'),
  hex('0c 05'),
  Buffer.from('guest'),
  hex('37 07 01 03 06 0c 0f 1c 1a'),
  hex('39 02 05 dc'),
  hex('ff'),
);

test('deconstructs the Go vmnet client DISCOVER', () => {
  assert.is(GO_DISCOVER.length, 244);
  const info = new DhcpInfo();
  assert.is(parseDhcp(GO_DISCOVER, 0, GO_DISCOVER.length, info), Drop.None);
  assert.is(dhcpOp(GO_DISCOVER, 0), BootpOp.Request);
  assert.is(dhcpXid(GO_DISCOVER, 0), 0x01000000);
  assert.is(dhcpFlags(GO_DISCOVER, 0), BOOTP_BROADCAST_FLAG);
  assert.is(dhcpChaddrMac(GO_DISCOVER, 0), 0x025000000001);
  assert.is(info.messageType, DhcpMessageType.Discover);
  assert.is(info.requestedIp, -1);
  assert.is(info.serverId, -1);
  assert.is(info.prlLen, 0);
  assert.is(dhcpHostName(info), undefined);
});

test('deconstructs a DISCOVER with the usual client options', () => {
  const info = new DhcpInfo();
  // Embedded at an offset, as it is inside a frame.
  const frame = cat(new Uint8Array(42), UDHCPC_DISCOVER, new Uint8Array(5));
  assert.is(parseDhcp(frame, 42, UDHCPC_DISCOVER.length, info), Drop.None);
  assert.is(info.messageType, DhcpMessageType.Discover);
  assert.is(info.requestedIp, 0xc0a84107);
  assert.is(info.maxMessageSize, 1500);
  assert.is(info.clientIdLen, 7);
  assert.is(frame[info.clientIdOff], 1);
  assert.is(dhcpHostName(info), 'guest');
  assert.ok(dhcpRequests(info, DhcpOption.InterfaceMtu));
  assert.ok(dhcpRequests(info, DhcpOption.Router));
  assert.not.ok(dhcpRequests(info, DhcpOption.DomainSearch));
  assert.is(dhcpFlags(frame, 42), 0);
});

test('the option cursor skips Pad, stops at End and reports each option in place', () => {
  const opts = hex('00 00 35 01 03 00 36 04 c0 a8 41 01 ff 35 01 07');
  const c = new DhcpOptionCursor().reset(opts, 0, opts.length);
  const seen: Array<[number, number, number]> = [];
  while (c.next()) seen.push([c.code, c.dataOff, c.dataLen]);
  assert.equal(seen, [
    [53, 4, 1],
    [54, 8, 4],
  ]);
  assert.ok(c.sawEnd);
  assert.not.ok(c.malformed);
});

test('constructs a reply into a 0xa5-filled buffer: every byte written, padded to 300', () => {
  const r: DhcpRepr = {
    op: BootpOp.Reply,
    xid: 0xdeadbeef,
    flags: BOOTP_BROADCAST_FLAG,
    ciaddr: 0,
    yiaddr: 0xc0a84102,
    siaddr: 0,
    giaddr: 0,
    chaddr: 0x025000000001,
    options: [dhcpOpt.u8(DhcpOption.MessageType, DhcpMessageType.Offer), dhcpOpt.ips(DhcpOption.ServerIdentifier, [0xc0a84101])],
  };
  const n = dhcpReprLength(r);
  assert.is(n, BOOTP_MIN_LEN);
  const b = new Uint8Array(8 + n + 8).fill(0xa5);
  assert.is(emitDhcp(r, b, 8), n);
  const m = b.subarray(8, 8 + n);
  assert.equal(m.subarray(0, 12), hex('02 01 06 00 de ad be ef 00 00 80 00'));
  assert.equal(m.subarray(12, 28), hex('00000000 c0a84102 00000000 00000000'));
  assert.equal(m.subarray(28, 44), hex('02 50 00 00 00 01 00 00 00 00 00 00 00 00 00 00'));
  assert.ok(m.subarray(44, 236).every((x) => x === 0), 'sname and file are zero');
  // The Go vmnet client only accepts an offer whose first option is 53=2 at offset 240 (§1.7).
  assert.equal(m.subarray(236, 252), hex('63 82 53 63 35 01 02 36 04 c0 a8 41 01 ff 00 00'));
  assert.ok(m.subarray(250).every((x) => x === 0), 'padding after End is zero');
  assert.ok(b.subarray(0, 8).every((x) => x === 0xa5) && b.subarray(8 + n).every((x) => x === 0xa5), 'nothing outside written');
});

test('parse(emit(repr)) round-trips, and long options are split and rejoined (RFC 3396)', () => {
  const long = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const r: DhcpRepr = {
    op: BootpOp.Reply,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 7,
    secs: 3,
    flags: 0,
    ciaddr: 1,
    yiaddr: 2,
    siaddr: 3,
    giaddr: 4,
    chaddr: 0x0a0b0c0d0e0f,
    options: [dhcpOpt.u8(53, 5), dhcpOpt.bytes(DhcpOption.DomainSearch, long), dhcpOpt.text(15, 'example.test'), dhcpOpt.u16(57, 576), dhcpOpt.u32(51, 3600)],
  };
  const b = new Uint8Array(dhcpReprLength(r));
  emitDhcp(r, b, 0);
  // 240 + 3 + (2+255) + (2+45) + 14 + 4 + 6 + End
  assert.is(b.length, 240 + 3 + 257 + 47 + 14 + 4 + 6 + 1);
  assert.equal(b.subarray(243, 245), hex('77 ff'));
  assert.equal(b.subarray(500, 502), hex('77 2d'));
  const back = parseDhcpRepr(b, 0, b.length)!;
  assert.equal(back, r);
});

test('truncated: shorter than the fixed header and cookie, or past the buffer', () => {
  const info = new DhcpInfo();
  assert.is(parseDhcp(GO_DISCOVER, 0, 239, info), Drop.Truncated);
  assert.is(parseDhcp(GO_DISCOVER, 0, 0, info), Drop.Truncated);
  assert.is(parseDhcp(GO_DISCOVER, 10, GO_DISCOVER.length, info), Drop.Truncated);
});

test('a wrong magic cookie is BOOTP, not served', () => {
  const b = Uint8Array.from(GO_DISCOVER);
  b[239] = 0x64;
  assert.is(parseDhcp(b, 0, b.length, new DhcpInfo()), Drop.Unsupported);
});

test('an option running past the end is rejected, whether its data or its length byte is missing', () => {
  const info = new DhcpInfo();
  const pastData = cat(header(), COOKIE, hex('35 01 01 0c 08 61 62'));
  assert.is(parseDhcp(pastData, 0, pastData.length, info), Drop.BadLength);
  const noLength = cat(header(), COOKIE, hex('35 01 01 0c'));
  assert.is(parseDhcp(noLength, 0, noLength.length, info), Drop.BadLength);
  // The same bytes cut by the UDP length rather than the buffer.
  const cut = cat(header(), COOKIE, hex('35 01 01 0c 04 61 62 63 64 ff'));
  assert.is(parseDhcp(cut, 0, cut.length - 3, info), Drop.BadLength);
});

test('options we read must have their RFC 2132 sizes', () => {
  const info = new DhcpInfo();
  for (const bad of ['35 02 01 01', '32 03 c0 a8 41', '36 05 c0 a8 41 01 00', '33 02 00 01', '39 01 05', '37 00', '0c 00', '3d 00', '34 00']) {
    const m = cat(header(), COOKIE, hex(bad), hex('ff'));
    assert.is(parseDhcp(m, 0, m.length, info), Drop.BadLength, bad);
  }
});

test('missing End is tolerated; a missing 53 parses as BOOTP (type 0); a repeated fixed-size option is rejected (RFC 3396 §5)', () => {
  const info = new DhcpInfo();
  const noEnd = cat(header(), COOKIE, hex('35 01 03 32 04 c0 a8 41 05'));
  assert.is(parseDhcp(noEnd, 0, noEnd.length, info), Drop.None);
  assert.is(info.messageType, DhcpMessageType.Request);
  assert.is(info.requestedIp, 0xc0a84105);
  const no53 = cat(header(), COOKIE, hex('32 04 c0 a8 41 05 ff'));
  assert.is(parseDhcp(no53, 0, no53.length, info), Drop.None);
  assert.is(info.messageType, 0);
  const twice = cat(header(), COOKIE, hex('35 01 03 35 01 07 ff'));
  assert.is(parseDhcp(twice, 0, twice.length, info), Drop.BadLength);
  const twiceServer = cat(header(), COOKIE, hex('35 01 03 36 04 c0 a8 41 01 36 04 c0 a8 41 01 ff'));
  assert.is(parseDhcp(twiceServer, 0, twiceServer.length, info), Drop.BadLength);
  // A repeated variable-length option is fine; the first instance is what the view records.
  const twiceName = cat(header(), COOKIE, hex('35 01 03 0c 01 61 0c 01 62 ff'));
  assert.is(parseDhcp(twiceName, 0, twiceName.length, info), Drop.None);
  assert.is(dhcpHostName(info), 'a');
  assert.equal([...parseDhcpRepr(twiceName, 0, twiceName.length)!.options[1]!.data], [0x61, 0x62]);
  // Bytes after End are ignored, even garbage.
  const after = cat(header(), COOKIE, hex('35 01 08 ff 0c 50'));
  assert.is(parseDhcp(after, 0, after.length, info), Drop.None);
  assert.is(info.messageType, DhcpMessageType.Inform);
});

test('host names keep letters, digits, - _ . and lose everything else', () => {
  const info = new DhcpInfo();
  const m = cat(header(), COOKIE, hex('35 01 01 0c 0c'), Buffer.from('my host;\n.x'), hex('00 ff'));
  assert.is(parseDhcp(m, 0, m.length, info), Drop.None);
  assert.is(dhcpHostName(info), 'myhost.x');
  const junk = cat(header(), COOKIE, hex('35 01 01 0c 02 00 0a ff'));
  assert.is(parseDhcp(junk, 0, junk.length, info), Drop.None);
  assert.is(dhcpHostName(info), undefined);
});

test('getters read the address fields in network order', () => {
  const m = cat(header('00 00', 'c0a84105'), COOKIE, hex('35 01 03 ff'));
  m[24] = 10;
  m[27] = 1;
  assert.is(dhcpCiaddr(m, 0), 0xc0a84105);
  assert.is(dhcpGiaddr(m, 0), 0x0a000001);
  assert.is(formatDhcpMessageType(DhcpMessageType.Nak), 'DHCPNAK');
  assert.is(formatDhcpMessageType(99), 'DHCP(99)');
});

/** A plain reference walker (RFC 2132 §2), allocating, used as the fuzz oracle. */
function refOptions(b: Uint8Array, off: number, len: number): Array<[number, number[]]> | 'bad' {
  const out: Array<[number, number[]]> = [];
  let p = off + 240;
  const end = off + len;
  while (p < end) {
    const code = b[p]!;
    if (code === 0) {
      p++;
      continue;
    }
    if (code === 255) break;
    if (p + 1 >= end) return 'bad';
    const n = b[p + 1]!;
    if (p + 2 + n > end) return 'bad';
    out.push([code, [...b.subarray(p + 2, p + 2 + n)]]);
    p += 2 + n;
  }
  return out;
}

test('fuzz: parseDhcp never throws, and agrees with a reference walker on the options', () => {
  const info = new DhcpInfo();
  const base = Uint8Array.from(UDHCPC_DISCOVER);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 600 }),
        // Valid prefix + random option bytes: the interesting part of the space.
        fc.uint8Array({ maxLength: 80 }).map((tail) => cat(header(), COOKIE, tail)),
        // Point mutations of a real message.
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }).map((muts) => {
          const m = Uint8Array.from(base);
          for (const [i, v] of muts) m[i] = v;
          return m;
        }),
      ),
      fc.nat(8),
      (msg, cutBack) => {
        const len = Math.max(0, msg.length - cutBack);
        const r = parseDhcp(msg, 0, len, info);
        const ref = len >= 240 ? refOptions(msg, 0, len) : 'bad';
        if (r === Drop.None) {
          assert.ok(ref !== 'bad');
          for (const [o, n] of [
            [info.prlOff, info.prlLen],
            [info.hostNameOff, info.hostNameLen],
            [info.clientIdOff, info.clientIdLen],
          ] as const) {
            if (n > 0) assert.ok(o >= 240 && o + n <= len);
          }
          const t = (ref as Array<[number, number[]]>).find(([c]) => c === 53);
          assert.is(info.messageType, t ? t[1][0]! : 0);
          const repr = parseDhcpRepr(msg, 0, len);
          assert.ok(repr !== undefined);
          // Re-emitting what was parsed and parsing again is stable.
          const b2 = new Uint8Array(dhcpReprLength(repr!));
          emitDhcp(repr!, b2, 0);
          assert.equal(parseDhcpRepr(b2, 0, b2.length), repr);
        } else if (r === Drop.BadLength && len >= 240) {
          // Either the walk is malformed, or an option we read had a wrong size.
          if (ref !== 'bad') assert.ok(ref.some(([c, d]) => [50, 51, 52, 53, 54, 55, 57, 12, 61].includes(c)), 'size rule');
        }
      },
    ),
    { numRuns: 3000, seed: 2131 },
  );
});

test.run();
