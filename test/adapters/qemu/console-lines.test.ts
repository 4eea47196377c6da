import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConsoleLineSplitter, MAX_CONSOLE_LINE, cleanConsoleLine } from '../../../adapters/qemu/console-lines.js';

test('CRLF lines lose the CR', () => {
  const s = new ConsoleLineSplitter();
  assert.equal(s.push('VMLAB init uptime=1.73\r\nVMLAB ready uptime=2.49\r\n'), ['VMLAB init uptime=1.73', 'VMLAB ready uptime=2.49']);
  assert.equal(s.end(), []);
});

test('the firmware escape sequences before the first line are stripped (vmlab pitfall 11)', () => {
  assert.is(cleanConsoleLine('\x1bc\x1b[?7l\x1b[2JVMLAB init uptime=1.73\r'), 'VMLAB init uptime=1.73');
});

test('only leading escapes go; escapes inside a line stay', () => {
  assert.is(cleanConsoleLine('\x1b[0mred \x1b[31mtext'), 'red \x1b[31mtext');
});

test('a line split across chunks is joined', () => {
  const s = new ConsoleLineSplitter();
  assert.equal(s.push('VMLAB li'), []);
  assert.equal(s.push('nk-up dev=eth0\r'), []);
  assert.equal(s.push('\nnext'), ['VMLAB link-up dev=eth0']);
  assert.equal(s.end(), ['next']);
});

test('a UTF-8 character split across byte chunks is decoded once whole', () => {
  const bytes = Buffer.from('body=héllo\n', 'utf8');
  const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
  const s = new ConsoleLineSplitter();
  assert.equal(s.push(bytes.subarray(0, cut)), []);
  assert.equal(s.push(bytes.subarray(cut)), ['body=héllo']);
});

test('empty lines are kept (they separate kernel output)', () => {
  assert.equal(new ConsoleLineSplitter().push('\r\n\r\nx\r\n'), ['', '', 'x']);
});

test('a line without LF longer than the cap is emitted in pieces', () => {
  const s = new ConsoleLineSplitter();
  const out = s.push('z'.repeat(MAX_CONSOLE_LINE * 2 + 5));
  assert.equal(out.map((l) => l.length), [MAX_CONSOLE_LINE, MAX_CONSOLE_LINE]);
  assert.equal(s.end(), ['zzzzz']);
});

test.run();
