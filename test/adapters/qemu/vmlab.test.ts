import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseVmlabMarker, vmlabAppend } from '../../../adapters/qemu/vmlab.js';

// Lines as printed by /work/shared/vmlab/guest/init (README "Console markers").

test('init: event, uptime as a number, kernel field', () => {
  assert.equal(parseVmlabMarker('VMLAB init uptime=1.73 kernel=6.1.0-56-amd64'), {
    event: 'init',
    uptime: 1.73,
    fields: { kernel: '6.1.0-56-amd64' },
  });
});

test('link-up: several fields', () => {
  const m = parseVmlabMarker('VMLAB link-up uptime=2.01 dev=eth0 mac=52:54:00:12:34:56 mtu=1500 carrier=1');
  assert.equal(m?.fields, { dev: 'eth0', mac: '52:54:00:12:34:56', mtu: '1500', carrier: '1' });
});

test('lease-acquired: many fields, values with dots and commas', () => {
  const m = parseVmlabMarker(
    'VMLAB lease-acquired uptime=2.20 event=bound dev=eth0 ip=192.168.65.3 prefix=24 router=192.168.65.1 dns=192.168.65.1 search=vmlab.test mtu=65520 applied_mtu=65520 lease=4294967295 server=192.168.65.1',
  );
  assert.is(m?.event, 'lease-acquired');
  assert.is(m?.fields.ip, '192.168.65.3');
  assert.is(m?.fields.lease, '4294967295');
  assert.is(Object.keys(m!.fields).length, 11);
});

test('wget-ok: body= is free text to the end of the line, spaces included', () => {
  const m = parseVmlabMarker('VMLAB wget-ok uptime=2.49 url=http://192.168.65.1:18000/ bytes=25 attempt=1 body=hello from host loopback');
  assert.equal(m?.fields, { url: 'http://192.168.65.1:18000/', bytes: '25', attempt: '1', body: 'hello from host loopback' });
});

test('free text keeps "=" and what looks like more fields', () => {
  const m = parseVmlabMarker('VMLAB error uptime=5.1 what=httpd-not-listening port=80');
  assert.equal(m?.fields, { what: 'httpd-not-listening port=80' });
  const w = parseVmlabMarker('VMLAB wget-fail uptime=9 url=http://x/ err=wget: can\'t connect to remote host (192.168.65.1): Connection refused');
  assert.is(w?.fields.err, "wget: can't connect to remote host (192.168.65.1): Connection refused");
});

test('an empty free-text value is an empty string', () => {
  assert.equal(parseVmlabMarker('VMLAB wget-ok uptime=1 body=')?.fields, { body: '' });
});

test('a marker with no fields at all', () => {
  assert.equal(parseVmlabMarker('VMLAB ip-addr-begin'), { event: 'ip-addr-begin', uptime: null, fields: {} });
  assert.equal(parseVmlabMarker('VMLAB ready uptime=2.49'), { event: 'ready', uptime: 2.49, fields: {} });
});

test('a marker after escape codes or other text is found; a trailing CR is ignored', () => {
  assert.is(parseVmlabMarker('\x1bc\x1b[2JVMLAB init uptime=1 kernel=k\r')?.fields.kernel, 'k');
});

test('a word without "=" continues the previous value', () => {
  assert.equal(parseVmlabMarker('VMLAB x uptime=1 a=1 2 b=3')?.fields, { a: '1 2', b: '3' });
});

test('other console lines are not markers', () => {
  assert.is(parseVmlabMarker('[    0.000000] Linux version 6.1.0'), null);
  assert.is(parseVmlabMarker('VMLABinit'), null);
  assert.is(parseVmlabMarker('VMLAB  uptime=1'), null);
  assert.is(parseVmlabMarker('VMLAB Bad-Event'), null);
});

test('an unparsable uptime is null', () => {
  assert.is(parseVmlabMarker('VMLAB init uptime=soon')?.uptime, null);
});

test('vmlabAppend writes only what is set, in guest/init spelling', () => {
  assert.is(vmlabAppend({ wget: false, poweroff: 0 }), 'vmlab.wget=off vmlab.poweroff=0');
  assert.is(
    vmlabAppend({ hostaddr: '192.168.65.254', hostport: 8080, mtu: 1500, dhcpTries: 1, blobMb: 4, echoport: 0 }),
    'vmlab.hostaddr=192.168.65.254 vmlab.hostport=8080 vmlab.echoport=0 vmlab.blob_mb=4 vmlab.mtu=1500 vmlab.dhcp_tries=1',
  );
  assert.is(vmlabAppend({}), '');
});

test('vmlabAppend: static address (gateway optional) and nameservers, as adapters/qemu/guest/init reads them', () => {
  assert.is(
    vmlabAppend({ staticAddress: { cidr: '192.168.65.9/24', gateway: '192.168.65.1' }, dns: ['192.168.65.1', '10.0.0.53'] }),
    'vmlab.static=192.168.65.9/24,192.168.65.1 vmlab.dns=192.168.65.1,10.0.0.53',
  );
  assert.is(vmlabAppend({ staticAddress: { cidr: '10.0.0.5/24' }, dns: [] }), 'vmlab.static=10.0.0.5/24,');
});

test.run();
