import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeDomainSearch, domainLabels, encodeDomainSearch } from '../../../src/services/dhcp/domain-search.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string): string => Buffer.from(s, 'ascii').toString('hex');

test('RFC 3397 §3 example: eng.apple.com + marketing.apple.com share apple.com through a pointer', () => {
  const got = encodeDomainSearch(['eng.apple.com.', 'marketing.apple.com'])._unsafeUnwrap();
  const expected = hex(`03${ascii('eng')} 05${ascii('apple')} 03${ascii('com')} 00 09${ascii('marketing')} c0 04`);
  assert.equal(got, expected);
  assert.equal(decodeDomainSearch(got), ['eng.apple.com', 'marketing.apple.com']);
});

test('a name equal to an earlier suffix is a bare pointer; duplicates and case are folded', () => {
  const got = encodeDomainSearch(['a.example.test', 'example.test', 'A.Example.Test'])._unsafeUnwrap();
  assert.equal(got, hex(`01${ascii('a')} 07${ascii('example')} 04${ascii('test')} 00 c0 02`));
  assert.equal(decodeDomainSearch(got), ['a.example.test', 'example.test']);
  assert.equal(encodeDomainSearch([])._unsafeUnwrap(), new Uint8Array(0));
});

test('invalid names are typed errors naming the name', () => {
  for (const bad of ['', '.', 'a..b', 'x'.repeat(64) + '.test', 'bad name.test', '-lead.test', `${'abcdefghi.'.repeat(26)}test`]) {
    const e = encodeDomainSearch(['ok.test', bad])._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-domain-name');
    assert.is(e.name, bad);
  }
  assert.equal(domainLabels('Under_score.example.')._unsafeUnwrap(), ['under_score', 'example']);
});

test('the decoder rejects forward or self pointers, truncation and reserved label types', () => {
  for (const bad of ['c0 00', '01 61 c0 02', '01 61', '05 61 62', '01 61 00 c0', '41 61 00']) {
    assert.is(decodeDomainSearch(hex(bad)), undefined, bad);
  }
});

test('fuzz: encode then decode gives the lowercased, de-duplicated list', () => {
  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
  fc.assert(
    fc.property(fc.array(name, { maxLength: 12 }), (names) => {
      const data = encodeDomainSearch(names)._unsafeUnwrap();
      assert.equal(decodeDomainSearch(data), [...new Set(names)]);
    }),
    { numRuns: 500, seed: 3397 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void decodeDomainSearch(b)), { numRuns: 2000, seed: 1 });
});

test.run();
