import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  encodeOpt, Flag, headerOnlyReply, layoutMessage, msgCount, msgFlags, msgId, readName, readQuestion, Rcode, setMsgId, skipRecords, truncateTo, typeName,
} from '../../../src/services/dns/message.js';
import { bigTxt, decode, query, responseTo } from '../../harness/dns/messages.js';

test('readQuestion: name as sent, lowered key, type, class, uncompressed wire form', () => {
  const q = readQuestion(query('WwW.Example.COM', 'AAAA'))!;
  assert.is(q.name, 'WwW.Example.COM');
  assert.is(q.key, 'www.example.com');
  assert.is(q.type, 28);
  assert.is(q.cls, 1);
  assert.equal([...q.wire], [3, 87, 119, 87, 7, 69, 120, 97, 109, 112, 108, 101, 3, 67, 79, 77, 0, 0, 28, 0, 1]);
  assert.is(q.end, 12 + q.wire.length);
});

test('readName follows backward compression pointers and rejects forward or looping ones', () => {
  // "a" at 12, then at 15 a name "b" + pointer to 12 → "b.a".
  const b = new Uint8Array([...new Array(12).fill(0), 1, 97, 0, 1, 98, 0xc0, 12]);
  assert.equal(readName(b, 15)?.name, 'b.a');
  assert.is(readName(b, 15)?.end, 19);
  // A pointer to itself.
  const loop = new Uint8Array([...new Array(12).fill(0), 0xc0, 12]);
  assert.is(readName(loop, 12), undefined);
  // A pointer forward.
  const fwd = new Uint8Array([...new Array(12).fill(0), 0xc0, 14, 1, 97, 0]);
  assert.is(readName(fwd, 12), undefined);
  // Reserved label types 0x40/0x80 and overruns.
  assert.is(readName(new Uint8Array([0x40, 0]), 0), undefined);
  assert.is(readName(new Uint8Array([5, 97]), 0), undefined);
  assert.is(readName(new Uint8Array([]), 0), undefined);
});

test('readName escapes dots, backslashes and unprintable bytes (RFC 1035 §5.1)', () => {
  const b = new Uint8Array([4, 97, 46, 92, 7, 0]);
  assert.is(readName(b, 0)?.name, 'a\\.\\\\\\007');
});

test('names longer than 255 octets are refused (RFC 1035 §3.1)', () => {
  const labels: number[] = [];
  for (let i = 0; i < 5; i++) labels.push(63, ...new Array(63).fill(97));
  assert.is(readName(new Uint8Array([...labels, 0]), 0), undefined);
});

test('layoutMessage finds the OPT record and rejects two of them', () => {
  const q = query('a.test', 'A', { edns: 4096 });
  const l = layoutMessage(q, readQuestion(q)!.end)!;
  assert.is(l.edns?.udpSize, 4096);
  assert.is(l.edns?.version, 0);
  assert.is(layoutMessage(query('a.test', 'A'), readQuestion(query('a.test', 'A'))!.end)!.edns, undefined);
  const opt = encodeOpt(1232);
  const two = new Uint8Array([...q, ...opt]);
  two[11] = 2;
  assert.is(layoutMessage(two, readQuestion(two)!.end), undefined);
  // ARCOUNT claiming a record that is not there.
  const short = query('a.test', 'A');
  short[11] = 1;
  assert.is(layoutMessage(short, readQuestion(short)!.end), undefined);
});

test('headerOnlyReply: id, opcode, RD copied; QR, RA and rcode set; question echoed', () => {
  const q = query('x.test', 'A', { id: 0xbeef });
  const r = headerOnlyReply(q, readQuestion(q), Rcode.ServFail, encodeOpt(1232));
  const p = decode(r);
  assert.is(p.id, 0xbeef);
  assert.ok(p.flag_qr && p.flag_rd && p.flag_ra);
  assert.is(r[3]! & 15, Rcode.ServFail);
  assert.equal(p.questions, [{ name: 'x.test', type: 'A', class: 'IN' }]);
  assert.is(p.additionals![0]!.udpPayloadSize, 1232);
  // Header only, when the question is unreadable.
  const h = headerOnlyReply(q.subarray(0, 12), undefined, Rcode.FormErr);
  assert.is(h.length, 12);
  assert.is(msgCount(h, 0), 0);
});

test('truncateTo: whole answers only, question kept, TC set, OPT kept, result decodes', () => {
  const q = query('big.test', 'TXT', { edns: 1232 });
  const full = responseTo(q, bigTxt('big.test', 10));
  const withOpt = new Uint8Array([...full, ...encodeOpt(4096)]);
  withOpt[11] = 1;
  assert.ok(withOpt.length > 1232);
  const { msg, truncated } = truncateTo(withOpt, 512);
  assert.ok(truncated);
  assert.ok(msg.length <= 512);
  const p = decode(msg);
  assert.ok(p.flag_tc);
  assert.is(p.questions?.length, 1);
  assert.ok(p.answers!.length >= 1 && p.answers!.length < 10, `kept ${p.answers!.length}`);
  assert.is(p.additionals?.[0]?.type, 'OPT');
  assert.is(skipRecords(msg, readQuestion(msg)!.end, p.answers!.length + 1), msg.length);
  // Fits: returned as is.
  const small = responseTo(q, bigTxt('big.test', 1));
  assert.is(truncateTo(small, 512).msg, small);
});

test('truncateTo on unparsable bytes cuts to the header with TC', () => {
  const junk = new Uint8Array(600).fill(0xff);
  const { msg } = truncateTo(junk, 512);
  assert.is(msg.length, 12);
  assert.ok((msgFlags(msg) & Flag.TC) !== 0);
});

test('setMsgId and typeName', () => {
  const q = query('x.test', 'A', { id: 1 });
  setMsgId(q, 0x1_fffe);
  assert.is(msgId(q), 0xfffe);
  assert.is(typeName(28), 'AAAA');
  assert.is(typeName(65), 'HTTPS');
  assert.is(typeName(4242), 'TYPE4242');
});

test.run();
