/**
 * Replies the gateway writes itself (local names, host-resolver answers) and the query it sends
 * upstream to finish a local CNAME chain. Records are encoded with dns-packet; header and
 * question are copied from the guest's query so id, opcode, RD, CD and the question's spelling
 * come back as sent (RFC 1035 §4.1.1, RFC 4343 §4.1).
 * @module
 */
import dnsPacket, { type Answer } from 'dns-packet';
import { Flag, HEADER_LEN, headerOnlyReply, Rcode, RrClass, type DnsQuestion } from './message.js';

/**
 * Header + the question as asked + `answers` (+ `opt`) with `rcode`; AA when `aa`. Answers that
 * will not encode (a malformed user record) make it a SERVFAIL instead of a throw.
 */
export function answerReply(query: Uint8Array, q: DnsQuestion, opt: Uint8Array | undefined, answers: readonly Answer[], rcode: number, aa: boolean): Uint8Array {
  let body: Uint8Array;
  try {
    // dns-packet writes a 12-byte header before the records and never compresses, so the
    // records after it stand alone.
    body = answers.length === 0 ? new Uint8Array(0) : dnsPacket.encode({ answers: [...answers] }).subarray(HEADER_LEN);
  } catch {
    return headerOnlyReply(query, q, Rcode.ServFail, opt);
  }
  const out = headerOnlyReply(query, q, rcode, opt);
  const full = new Uint8Array(out.length + body.length);
  const qEnd = HEADER_LEN + q.wire.length;
  full.set(out.subarray(0, qEnd), 0);
  full.set(body, qEnd);
  if (opt !== undefined) full.set(opt, qEnd + body.length);
  if (aa) full[2] = full[2]! | (Flag.AA >>> 8);
  full[6] = answers.length >>> 8;
  full[7] = answers.length & 0xff;
  return full;
}

/** A recursion-desired query for `name`/`type` in class IN, id 0 (the forwarder sets its own). */
export function chaseQuery(name: string, type: number): Uint8Array {
  const labels = name === '' ? [] : name.split('.');
  const nameLen = labels.reduce((n, l) => n + 1 + l.length, 1);
  const out = new Uint8Array(HEADER_LEN + nameLen + 4);
  out[2] = Flag.RD >>> 8;
  out[5] = 1;
  let p = HEADER_LEN;
  for (const l of labels) {
    out[p++] = l.length;
    for (let i = 0; i < l.length; i++) out[p++] = l.charCodeAt(i);
  }
  out[p++] = 0;
  out[p++] = type >>> 8;
  out[p++] = type & 0xff;
  out[p++] = 0;
  out[p] = RrClass.IN;
  return out;
}
