/**
 * One-off tool, run by hand after `capture.sh`: prints selected records of a classic pcap file as
 * a TypeScript module of hex constants (the body of `frames.ts`). Not run by the tests.
 *
 *   npx tsx test/wire/golden/pcap-to-ts.ts /tmp/vnk-golden/golden.pcap arpRequest=0 tcpSyn=12 ...
 *
 * Each constant gets tcpdump's one-line decoding of that record as its comment.
 * @module
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const [file, ...picks] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: pcap-to-ts.ts FILE name=index ...');
const d = readFileSync(file);
const records: Buffer[] = [];
for (let o = 24; o + 16 <= d.length; ) {
  const incl = d.readUInt32LE(o + 8);
  records.push(d.subarray(o + 16, o + 16 + incl));
  o += 16 + incl;
}
// `-t` drops timestamps, `-S` keeps absolute TCP sequence numbers, `-v` keeps IP header fields and TCP options in the comment.
const decoded = execFileSync('tcpdump', ['-r', file, '-nn', '-S', '-t', '-v', '-e'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  .replace(/\n\s+/g, ' ')
  .trim()
  .split('\n');
for (const pick of picks) {
  const [name, idx] = pick.split('=') as [string, string];
  const rec = records[Number(idx)]!;
  const hex = rec.toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 64) lines.push(`  '${hex.slice(i, i + 64)}'`);
  console.log(`/** #${idx}: ${decoded[Number(idx)]!.replace(/\*\//g, '* /')} */`);
  console.log(`export const ${name} = hex(\n${lines.join(' +\n')},\n);\n`);
}
