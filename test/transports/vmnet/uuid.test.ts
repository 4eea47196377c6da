import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../../src/runtime/rng.js';
import { generateUuidV4, parseUuid } from '../../../src/transports/vmnet/uuid.js';

test('parseUuid lowercases canonical text and rejects other forms', () => {
  assert.is(parseUuid('C3D68012-0208-11EA-9FD7-F2189899AB08')._unsafeUnwrap(), 'c3d68012-0208-11ea-9fd7-f2189899ab08');
  for (const bad of ['', 'c3d680120208-11ea-9fd7-f2189899ab08', 'urn:uuid:c3d68012-0208-11ea-9fd7-f2189899ab08', ' c3d68012-0208-11ea-9fd7-f2189899ab08']) {
    assert.is(parseUuid(bad)._unsafeUnwrapErr().kind, 'bad-uuid', bad);
  }
});

test('generated UUIDs are v4, RFC 4122 variant, parse back, and follow the Rng', () => {
  const a = new SeededRng(7);
  const b = new SeededRng(7);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const u = generateUuidV4(a);
    assert.is(u, generateUuidV4(b));
    assert.is(parseUuid(u)._unsafeUnwrap(), u);
    assert.is(u[14], '4');
    assert.ok('89ab'.includes(u[19]!), u);
    seen.add(u);
  }
  assert.is(seen.size, 200);
});

test.run();
