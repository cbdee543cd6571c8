import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareKeys, isUnderPrefix, joinKey, normalizePrefix, validateKey } from './object-key.ts';

describe('object keys', () => {
  it('accepts relative /-separated keys', () => {
    for (const key of ['a', 'jobs/42/artifacts/model.safetensors', 'x.tmp-1/y', 'ü é/(1)+2', '.env', 'a..b', '...', 'a/.hidden']) {
      assert.equal(validateKey(key), key);
    }
  });

  it('rejects bad keys with INVALID_KEY and a reason naming the problem', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /must not be empty/],
      ['/abs', /must be relative/],
      ['../x', /'\.' or '\.\.' segments/],
      ['a/../../b', /'\.' or '\.\.' segments/],
      ['a/./b', /'\.' or '\.\.' segments/],
      ['a\\b', /backslashes/],
      ['a\u0000b', /NUL/],
      ['a\rb', /control characters/],
      ['a//b', /empty segments/],
      ['a/', /empty segments/],
      ['.hifi-meta.x', /reserved/],
      ['é'.repeat(513), /at most 1024 bytes/],
      [42, /must be a string/],
    ];
    for (const [key, reason] of cases) {
      assert.throws(() => validateKey(key), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal((error as Error & { code?: string }).code, 'INVALID_KEY');
        assert.match(error.message, reason);
        return true;
      }, JSON.stringify(key));
    }
  });

  it('normalises folder prefixes', () => {
    assert.equal(normalizePrefix('a/b/', { allowEmpty: false }), 'a/b');
    assert.equal(normalizePrefix('a/b', { allowEmpty: false }), 'a/b');
    assert.equal(normalizePrefix('', { allowEmpty: true }), '');
    assert.throws(() => normalizePrefix('', { allowEmpty: false }), { code: 'INVALID_KEY' });
    assert.throws(() => normalizePrefix('/', { allowEmpty: true }), { code: 'INVALID_KEY' });
    assert.throws(() => normalizePrefix('a//', { allowEmpty: true }), { code: 'INVALID_KEY' });
    assert.throws(() => normalizePrefix('../', { allowEmpty: true }), { code: 'INVALID_KEY' });
  });

  it('joins and matches folders segment-wise', () => {
    assert.equal(joinKey('a/b', 'c/d'), 'a/b/c/d');
    assert.equal(joinKey('', 'c'), 'c');
    assert.throws(() => joinKey('a', '../b'), { code: 'INVALID_KEY' });
    assert.equal(isUnderPrefix('a/b/c', 'a/b'), true);
    assert.equal(isUnderPrefix('a/bc', 'a/b'), false);
    assert.equal(isUnderPrefix('anything', ''), true);
  });

  it('orders keys by UTF-8 bytes, as S3 does', () => {
    const keys = ['b', 'a/x', 'a-x', '\u{1F600}', '\uFFFD', 'A'];
    assert.deepEqual([...keys].sort(compareKeys), ['A', 'a-x', 'a/x', 'b', '\uFFFD', '\u{1F600}']);
  });
});
