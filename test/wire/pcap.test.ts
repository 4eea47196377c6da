import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PCAP_GLOBAL_HLEN, PCAP_RECORD_HLEN, PcapWriter, writePcapGlobalHeader } from '../../src/wire/pcap.js';
import * as golden from './golden/frames.js';
import { hexOf } from './golden/mutate.js';

const dir = mkdtempSync(join(tmpdir(), 'vnetkit-pcap-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Records of a classic little-endian pcap file, parsed the plain way. */
function readPcap(file: string): { header: Buffer; records: Array<{ sec: number; usec: number; incl: number; orig: number; data: Buffer }> } {
  const d = readFileSync(file);
  const records = [];
  let o = PCAP_GLOBAL_HLEN;
  while (o < d.length) {
    assert.ok(o + PCAP_RECORD_HLEN <= d.length, 'record header cut short');
    const incl = d.readUInt32LE(o + 8);
    records.push({ sec: d.readUInt32LE(o), usec: d.readUInt32LE(o + 4), incl, orig: d.readUInt32LE(o + 12), data: d.subarray(o + 16, o + 16 + incl) });
    o += PCAP_RECORD_HLEN + incl;
  }
  assert.is(o, d.length, 'no trailing bytes');
  return { header: d.subarray(0, PCAP_GLOBAL_HLEN), records };
}

/** Opens a writer on a fresh file; fails the test if it cannot. */
function open(name: string, snaplen?: number): { w: PcapWriter; file: string } {
  const file = join(dir, name);
  const r = PcapWriter.open(file, snaplen);
  if (r.isErr()) throw new Error(r.error.message);
  return { w: r.value, file };
}

test('global header layout: magic a1b2c3d4 (LE), v2.4, zone 0, sigfigs 0, snaplen, LINKTYPE_ETHERNET', () => {
  const b = Buffer.alloc(PCAP_GLOBAL_HLEN, 0xa5);
  writePcapGlobalHeader(b, 65535);
  assert.is(b.toString('hex'), 'd4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000');
});

test('record layout: timestamp split into s/us, incl/orig lengths, frame bytes', async () => {
  const { w, file } = open('layout.pcap', 1000);
  const f = golden.icmpEchoRequest;
  w.record(f, 0, f.length, 1_700_000_000_123.456);
  // A frame inside a larger buffer: only [off, off+len) is recorded.
  const big = new Uint8Array(f.length + 10).fill(0xee);
  big.set(f, 4);
  w.record(big, 4, f.length, 1_700_000_001_000);
  assert.is(w.frames, 2);
  await w.close();
  const { header, records } = readPcap(file);
  assert.is(header.readUInt32LE(16), 1000, 'snaplen');
  assert.is(records.length, 2);
  assert.equal([records[0]!.sec, records[0]!.usec, records[0]!.incl, records[0]!.orig], [1_700_000_000, 123_456, 98, 98]);
  assert.is(records[0]!.data.toString('hex'), hexOf(f));
  assert.equal([records[1]!.sec, records[1]!.usec], [1_700_000_001, 0]);
  assert.is(records[1]!.data.toString('hex'), hexOf(f));
  const raw = readFileSync(file);
  assert.is(raw.subarray(24, 40).toString('hex'), '00f15365' + '40e20100' + '62000000' + '62000000');
});

test('snaplen caps the bytes kept while orig_len keeps the real length', async () => {
  const { w, file } = open('snap.pcap', 64);
  w.record(golden.tcpData, 0, golden.tcpData.length, 0);
  await w.close();
  const r = readPcap(file).records[0]!;
  assert.equal([r.incl, r.orig], [64, 166]);
  assert.is(r.data.toString('hex'), hexOf(golden.tcpData, 0, 64));
});

test('many frames across several internal chunks, and one larger than a chunk, all land in order', async () => {
  const { w, file } = open('many.pcap');
  const n = 400;
  const f = new Uint8Array(1514);
  for (let i = 0; i < n; i++) {
    new DataView(f.buffer).setUint32(100, i);
    w.record(f, 0, f.length, i);
  }
  const huge = new Uint8Array(300_000).fill(7);
  w.record(huge, 0, huge.length, n);
  // A frame recorded after a flush was scheduled, in a later turn.
  await new Promise((r) => setImmediate(r));
  w.record(golden.arpRequest, 0, 42, n + 1);
  await w.close();
  w.record(golden.arpRequest, 0, 42, n + 2); // after close: ignored
  await w.close(); // twice: harmless
  const { records } = readPcap(file);
  assert.is(records.length, n + 2);
  for (let i = 0; i < n; i++) assert.is(records[i]!.data.readUInt32BE(100), i, `record ${i}`);
  assert.equal([records[n]!.incl, records[n]!.orig], [262144, 300_000]);
  assert.ok(records[n]!.data.every((x) => x === 7));
  assert.is(records[n + 1]!.data.toString('hex'), hexOf(golden.arpRequest));
  assert.is(w.frames, n + 2);
});

test('open reports a path it cannot create', () => {
  const r = PcapWriter.open(join(dir, 'no-such-dir', 'x.pcap'));
  assert.ok(r.isErr());
  assert.is(r.isErr() && r.error.kind, 'pcap-open-failed');
});

test('tcpdump reads the file: packet count and a decoded ping', async () => {
  const probe = spawnSync('tcpdump', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.log(`  (skipped: tcpdump is not available: ${probe.error?.message ?? probe.stderr})`);
    return;
  }
  const { w, file } = open('golden.pcap');
  const all = Object.values(golden).filter((v): v is Uint8Array => v instanceof Uint8Array);
  all.forEach((f, i) => w.record(f, 0, f.length, 1_700_000_000_000 + i));
  await w.close();
  const r = spawnSync('tcpdump', ['-r', file, '-nn'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, all.length);
  assert.ok(lines.some((l) => /IP 10\.99\.0\.1 > 10\.99\.0\.2: ICMP echo request, id 8500, seq 1, length 64/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /ARP, Reply 10\.99\.0\.2 is-at 02:00:00:00:00:0b/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /10\.99\.0\.1\.39788 > 10\.99\.0\.2\.5001: Flags \[S\]/.test(l)), r.stdout);
});

test.run();
