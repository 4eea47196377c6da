import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { ResolvConfWatcher } from '../../../src/services/dns/resolv-conf-watch.js';
import { FakeFiles } from '../../harness/dns/fake-files.js';

const PATH = '/etc/resolv.conf';

function setup(prepare: (f: FakeFiles) => void = (f) => f.write(PATH, 'nameserver 10.0.0.1\n')) {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) };
  const files = new FakeFiles();
  prepare(files);
  const changes: number[] = [];
  const watcher = new ResolvConfWatcher(runtime, files, PATH, () => changes.push(sched.clock.now()), { pollMs: 2000, debounceMs: 50 });
  return { sched, files, watcher, changes };
}

test('a file renamed over resolv.conf (resolvconf, VPN clients) is one change, after the debounce', () => {
  const { sched, files, watcher, changes } = setup();
  assert.equal(files.watchedDirs(), ['/etc']);
  files.replace(PATH, 'nameserver 10.0.0.2\n');
  sched.advance(49);
  assert.equal(changes, []);
  sched.advance(1);
  assert.equal(changes, [50]);
  assert.equal([watcher.stats().events, watcher.stats().changes], [1, 1], 'the temp file’s events were not ours');
});

test('an in-place rewrite is a change too; other files in the directory are not', () => {
  const { sched, files, changes } = setup();
  files.write('/etc/hosts', '127.0.0.1 localhost\n');
  sched.advance(100);
  assert.equal(changes, []);
  files.write(PATH, 'nameserver 10.0.0.3\n');
  sched.advance(50);
  assert.equal(changes, [150]);
});

test('an event without a content change costs no reload', () => {
  const { sched, files, changes, watcher } = setup();
  files.emit(PATH);
  sched.advance(50);
  assert.equal(changes, []);
  assert.is(watcher.stats().events, 1);
});

test('without notifications the periodic stat notices the change', () => {
  const { sched, files, changes } = setup();
  files.silent = true;
  files.replace(PATH, 'nameserver 10.0.0.4\n');
  sched.advance(1999);
  assert.equal(changes, []);
  sched.advance(1);
  assert.equal(changes, [2000]);
  sched.advance(10_000);
  assert.equal(changes, [2000], 'unchanged since: no more reloads');
});

test('a symlinked resolv.conf: the target’s directory is watched, and a retargeted link is followed', () => {
  const { sched, files, changes, watcher } = setup((f) => {
    f.write('/run/systemd/resolve/stub-resolv.conf', 'nameserver 127.0.0.53\n');
    f.write('/run/NetworkManager/resolv.conf', 'nameserver 10.9.0.1\n');
    f.symlink(PATH, '/run/systemd/resolve/stub-resolv.conf');
  });
  assert.equal(files.watchedDirs().sort(), ['/etc', '/run/systemd/resolve']);
  files.replace('/run/systemd/resolve/stub-resolv.conf', 'nameserver 127.0.0.53\nsearch corp.test\n');
  sched.advance(50);
  assert.equal(changes, [50]);
  files.symlink(PATH, '/run/NetworkManager/resolv.conf');
  sched.advance(50);
  assert.equal(changes, [50, 100]);
  assert.equal(files.watchedDirs().sort(), ['/etc', '/run/NetworkManager']);
  assert.equal(watcher.stats().watching.slice().sort(), ['/etc', '/run/NetworkManager']);
});

test('a directory that cannot be watched: the error is reported, polling carries on, watching starts once possible', () => {
  const { sched, files, changes, watcher } = setup((f) => {
    f.unwatchable.add('/etc');
  });
  assert.match(watcher.stats().watchError!, /cannot watch \/etc/);
  files.write(PATH, 'nameserver 10.0.0.5\n');
  sched.advance(2000);
  assert.equal(changes, [2000], 'appeared: seen by polling');
  files.unwatchable.delete('/etc');
  sched.advance(2000);
  assert.equal([watcher.stats().watching, watcher.stats().watchError], [['/etc'], undefined]);
  files.write(PATH, 'nameserver 10.0.0.6\n');
  sched.advance(50);
  assert.equal(changes, [2000, 4050]);
});

test('close stops watching and polling', () => {
  const { sched, files, changes, watcher } = setup();
  files.write(PATH, 'nameserver 10.0.0.7\n');
  watcher.close();
  sched.advance(10_000);
  assert.equal(changes, []);
  assert.equal(files.watchedDirs(), []);
  assert.is(sched.size, 0);
});

test.run();
