/**
 * TAP devices and ICMP ping sockets, exercised in a private network namespace made for this
 * test (`unshare --net`), see fixtures/netns-tap-ping.ts. No traffic leaves the namespace.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeOrSkip } from './native-test-helpers.js';

const native = nativeOrSkip('test/native/tap-and-ping.test.ts');
const fixture = fileURLToPath(new URL('./fixtures/netns-tap-ping.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

function canUnshare(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root for unshare --net and TAP creation';
  const r = spawnSync('unshare', ['--net', '--', 'true']);
  if (r.error) return `unshare not runnable: ${r.error.message}`;
  if (r.status !== 0) return `unshare --net failed: ${r.stderr.toString().trim()}`;
  return undefined;
}

const why = native === undefined ? 'native addon unavailable' : canUnshare();
if (why !== undefined) {
  console.log(`SKIP test/native/tap-and-ping.test.ts: ${why}`);
} else {
  const steps = new Map<string, Record<string, any>>();
  let context = '';
  let status: number | null = null;
  test.before(() => {
    // Runs once, inside a namespace that dies with the child: see the fixture's header.
    const run = spawnSync('unshare', ['--net', '--', process.execPath, '--import', 'tsx', fixture], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    for (const line of run.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const o = JSON.parse(line) as Record<string, any>;
      steps.set(o['step'] as string, o);
    }
    status = run.status;
    context = `fixture exit ${run.status}, stderr:\n${run.stderr}\nstdout:\n${run.stdout}`;
  });

  test('fixture ran to completion', () => {
    assert.is(steps.get('fatal'), undefined, context);
    assert.is(status, 0, context);
  });

  test('ping socket creation refused by ping_group_range is a clear EACCES error', () => {
    const s = steps.get('denied');
    assert.ok(s, context);
    assert.is(s!['ok'], false);
    assert.is(s!['error'].kind, 'os-error');
    assert.is(s!['error'].code, 'EACCES');
    assert.match(s!['error'].message, /ping_group_range is '1 0'/);
    assert.match(s!['error'].message, /sysctl -w net\.ipv4\.ping_group_range=/);
  });

  test('ping socket: 127.0.0.1 answers with an echo reply carrying our sequence and payload', () => {
    const s = steps.get('loopback');
    assert.ok(s, context);
    assert.equal(s!['reply'], { src: '127.0.0.1', type: 0, seq: 1, payload: 'vnetkit-loopback' });
    assert.ok(s!['identifier'] > 0, 'the kernel bound an ICMP identifier at first send');
  });

  test('TAP: the kernel ARPs and pings through the TAP, the test answers, the ping socket gets the reply', () => {
    const s = steps.get('tap');
    assert.ok(s, context);
    assert.match(s!['name'], /^vnkt/);
    assert.equal(s!['reply'], { src: s!['peer'], type: 0, seq: 2, payload: 'vnetkit-through-tap' });
    assert.ok(s!['seen'].arpRequests >= 1, 'ARP request for the peer read from the TAP');
    assert.is(s!['seen'].echoRequests, 1, 'exactly one ICMP echo request read from the TAP');
    assert.ok(s!['stats'].txFrames >= 2, 'ARP reply and echo reply written');
    assert.is(s!['stats'].txDropped, 0);
  });
}

test.run();
