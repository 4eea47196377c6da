import { getSystemErrorMap } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyLookupError, isHostLookupName } from '../../../src/services/dns/host-lookup.js';
import { lookupErrorCode } from '../../../src/services/dns/node-host-lookup.js';

/** libuv's errno for a symbolic name on this platform. */
function errnoOf(name: string): number {
  for (const [errno, [n]] of getSystemErrorMap()) if (n === name) return errno;
  throw new Error(`no errno named ${name}`);
}

test('getaddrinfo errors in DNS terms', () => {
  const table: [string, string][] = [
    ['EAI_NONAME', 'no-name'],
    ['ENOTFOUND', 'no-name'],
    ['EAI_NODATA', 'no-data'],
    ['ENODATA', 'no-data'],
    ['EAI_ADDRFAMILY', 'no-data'],
    ['EAI_AGAIN', 'failure'],
    ['EAI_FAIL', 'failure'],
    ['ETIMEOUT', 'failure'],
    ['EAI_MEMORY', 'failure'],
  ];
  assert.equal(table.map(([c]) => [c, classifyLookupError(c)]), table);
});

test('Node says ENOTFOUND for both EAI_NONAME and EAI_NODATA; errno tells them apart', () => {
  // What dns.lookup hands its callback (Node's dnsException): code rewritten, errno kept.
  const nodata = Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND', errno: errnoOf('EAI_NODATA') });
  const noname = Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND', errno: errnoOf('EAI_NONAME') });
  const again = Object.assign(new Error('getaddrinfo EAI_AGAIN x'), { code: 'EAI_AGAIN', errno: errnoOf('EAI_AGAIN') });
  assert.equal([lookupErrorCode(nodata), lookupErrorCode(noname), lookupErrorCode(again)], ['EAI_NODATA', 'EAI_NONAME', 'EAI_AGAIN']);
  assert.is(lookupErrorCode(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })), 'ERR_INVALID_ARG_TYPE', 'no errno: the code');
  assert.is(lookupErrorCode(Object.assign(new Error('x'), { errno: 12345 })), 'EAI_FAIL', 'an unknown positive errno without code');
});

test('which names go to getaddrinfo, and which stay with the upstreams', () => {
  const host = ['example.test', 'Intranet', 'vpn-only.corp.example', '_ldap._tcp.corp.example', 'x1.a-b.test', 'a'.repeat(63) + '.test'];
  const upstream = [
    '', // the root
    '1', // inet_aton would answer 0.0.0.1
    '127.1',
    '0x7f.1',
    '192.0.2.1',
    '2001:db8::1',
    'a\\032b.test', // an escaped octet
    'a..b',
    'a'.repeat(64) + '.test',
    ('a'.repeat(60) + '.').repeat(4) + 'abcdefghij', // 254 characters
  ];
  assert.equal(host.filter((n) => !isHostLookupName(n)), []);
  assert.equal(upstream.filter((n) => isHostLookupName(n)), []);
});

test.run();
