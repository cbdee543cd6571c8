// The one conformance suite every ObjectStore backend must pass (as rate-limit's stores share one test file).
// Each test works in its own folder `t-<uuid>` of the store, so tests never see each other's objects.
// Test-only (imports node:test); import it as `@hifi/storage/object-store-suite.ts`.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { removeAbandonedTemps, tempPrefixFor, writeArtifactsAtomically } from './atomic-artifacts.ts';
import { readObject } from './object-bytes.ts';
import { DEFAULT_CONTENT_TYPE } from './object-store.ts';
import type { ObjectStore } from './object-store.ts';

export interface ObjectStoreSuiteOptions {
  /** true: presignGet returns a URL that serves the bytes over HTTP (S3); false: it returns null (fs). */
  presignedUrls: boolean;
}

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** A stream of `size` random bytes in 1 MiB chunks, and the SHA-256 of what it produced (read it after the stream ends). */
function randomStream(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let left = size;
  let digest: string | undefined;
  const stream = Readable.from((function* () {
    while (left > 0) {
      const chunk = randomBytes(Math.min(MiB, left));
      left -= chunk.length;
      hash.update(chunk);
      yield chunk;
    }
    digest = hash.digest('hex');
  })());
  return { stream, digest: () => { assert.ok(digest !== undefined, 'the stream was not read to the end'); return digest; } };
}

/** A stream that yields `goodBytes` bytes, then fails. */
function failingStream(goodBytes: number, message: string): Readable {
  return Readable.from((async function* () {
    for (let sent = 0; sent < goodBytes; sent += MiB) yield randomBytes(Math.min(MiB, goodBytes - sent));
    throw new Error(message);
  })());
}

async function streamDigest(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

const invalidKey = { name: 'StorageKeyError', code: 'INVALID_KEY' };
const notFound = { name: 'NotFoundError', code: 'NOT_FOUND' };
const invalidRange = { name: 'InvalidRangeError', code: 'INVALID_RANGE' };

export function runObjectStoreSuite(name: string, makeStore: () => Promise<ObjectStore>, options: ObjectStoreSuiteOptions): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    let store: ObjectStore;
    let ns: string;
    const keysIn = async (prefix: string): Promise<string[]> => (await store.list(prefix)).map((item) => item.key);

    before(async () => { store = await makeStore(); });
    after(async () => { await store?.close(); });
    beforeEach(() => { ns = `t-${randomUUID()}`; });

    it('answers ping()', async () => {
      await store.ping();
    });

    it('puts, heads and gets an object with its content type', async () => {
      const body = Buffer.from('{"accuracy":0.91}\n');
      const put = await store.put(`${ns}/metrics.json`, body, { contentType: 'application/json' });
      assert.equal(put.size, body.length);
      const info = await store.head(`${ns}/metrics.json`);
      assert.ok(info !== null);
      assert.equal(info.size, body.length);
      assert.equal(info.contentType, 'application/json');
      assert.ok(info.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()));
      assert.equal(Math.abs(info.lastModified.getTime() - Date.now()) < 60_000, true, 'lastModified is about now');
      assert.match(info.etag ?? '', /^".+"$/, 'etag is a quoted HTTP entity tag');
      assert.equal(info.etag, put.etag);
      assert.deepEqual(await readObject(store, `${ns}/metrics.json`), body);
    });

    it('replaces an object on put, with a new etag and the default content type when none is given', async () => {
      const key = `${ns}/a.txt`;
      await store.put(key, Buffer.from('first version'), { contentType: 'text/plain' });
      const first = await store.head(key);
      await store.put(key, Buffer.from('second'));
      const second = await store.head(key);
      assert.equal(second?.size, 6);
      assert.equal(second?.contentType, DEFAULT_CONTENT_TYPE);
      assert.notEqual(second?.etag, first?.etag);
      assert.equal((await readObject(store, key)).toString(), 'second');
    });

    it('stores empty objects', async () => {
      await store.put(`${ns}/empty`, Buffer.alloc(0));
      assert.equal((await store.head(`${ns}/empty`))?.size, 0);
      assert.equal((await readObject(store, `${ns}/empty`)).length, 0);
      assert.equal((await store.put(`${ns}/empty-stream`, Readable.from([]))).size, 0);
      assert.equal((await store.head(`${ns}/empty-stream`))?.size, 0);
    });

    it('reports missing objects: head → null, get → NotFoundError', async () => {
      assert.equal(await store.head(`${ns}/missing`), null);
      await assert.rejects(store.get(`${ns}/missing`), notFound);
      await assert.rejects(store.get(`${ns}/missing`, { start: 0, end: 1 }), notFound);
    });

    it('lists a folder in key order, without siblings that merely share the prefix (temp folders included)', async () => {
      const keys = [`${ns}/run/b`, `${ns}/run/a`, `${ns}/run/sub/c`, `${ns}/runner/x`, `${ns}/run.tmp-old/y`];
      for (const [i, key] of keys.entries()) await store.put(key, Buffer.alloc(i + 1, 1));
      const listed = await store.list(`${ns}/run`);
      assert.deepEqual(listed.map((item) => item.key), [`${ns}/run/a`, `${ns}/run/b`, `${ns}/run/sub/c`]);
      assert.deepEqual(listed.map((item) => item.size), [2, 1, 3]);
      for (const item of listed) assert.ok(item.lastModified instanceof Date);
      assert.deepEqual(await keysIn(`${ns}/run/`), listed.map((item) => item.key), 'a trailing slash means the same folder');
      assert.deepEqual(await keysIn(`${ns}/run/sub`), [`${ns}/run/sub/c`]);
      assert.deepEqual(await keysIn(`${ns}/nothing-here`), []);
      assert.deepEqual(await keysIn(`${ns}/run/a`), [], 'an object is not a folder');
    });

    it('lists many objects, across several pages, in byte order of the keys', async () => {
      // Key names whose byte order is also their directory order: s3rver pages in directory-walk order, so a
      // listing that pages across `run/` and `run.tmp-x/` can skip keys on it (not on S3, which pages in byte order).
      const keys = ['k10', 'k2', 'k1', 'deep/k0', 'k3', 'k4', 'z', 'deep/er/k', 'k0'].map((name) => `${ns}/many/${name}`);
      for (const key of keys) await store.put(key, Buffer.from(key));
      const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(await keysIn(`${ns}/many`), sorted);
      assert.deepEqual(await keysIn(ns), sorted);
      const everything = await keysIn('');
      for (const key of keys) assert.ok(everything.includes(key), `list('') includes ${key}`);
      assert.deepEqual(everything, [...everything].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    });

    it('deletes objects (idempotently) and folders, leaving siblings alone', async () => {
      await store.put(`${ns}/keep/x`, Buffer.from('x'));
      await store.put(`${ns}/gone/one`, Buffer.from('1'));
      await store.put(`${ns}/gone/deep/two`, Buffer.from('2'));
      await store.put(`${ns}/gone-not/three`, Buffer.from('3'));
      await store.delete(`${ns}/keep/x`);
      assert.equal(await store.head(`${ns}/keep/x`), null);
      await store.delete(`${ns}/keep/x`); // already gone: no error
      assert.equal(await store.deletePrefix(`${ns}/gone`), 2);
      assert.deepEqual(await keysIn(ns), [`${ns}/gone-not/three`]);
      assert.equal(await store.deletePrefix(`${ns}/gone`), 0);
      await assert.rejects(store.deletePrefix(''), invalidKey, 'deleting the whole store by accident is refused');
      await assert.rejects(store.deletePrefix('/'), invalidKey);
    });

    it('serves HTTP-style byte ranges', async () => {
      const body = Buffer.from('0123456789abcdefghij');
      await store.put(`${ns}/r`, body);
      assert.equal((await readObject(store, `${ns}/r`, { start: 0, end: 1 })).toString(), '01');
      assert.equal((await readObject(store, `${ns}/r`, { start: 1, end: 1 })).toString(), '1');
      assert.equal((await readObject(store, `${ns}/r`, { start: 3, end: 7 })).toString(), '34567');
      assert.equal((await readObject(store, `${ns}/r`, { start: 15 })).toString(), 'fghij');
      assert.equal((await readObject(store, `${ns}/r`, { start: 18, end: 1000 })).toString(), 'ij', 'an end past the object is clamped');
      await assert.rejects(store.get(`${ns}/r`, { start: 20 }), invalidRange);
      await assert.rejects(store.get(`${ns}/r`, { start: 5, end: 4 }), invalidRange);
      await assert.rejects(store.get(`${ns}/r`, { start: -1, end: 4 }), invalidRange);
      await assert.rejects(store.get(`${ns}/r`, { start: 1.5 }), invalidRange);
    });

    it('streams a multi-MB object in and out (multipart on S3), with ranges deep inside', async () => {
      const size = 12 * MiB + 12345;
      const source = randomStream(size);
      const put = await store.put(`${ns}/model.safetensors`, source.stream);
      assert.equal(put.size, size);
      assert.equal((await store.head(`${ns}/model.safetensors`))?.size, size);
      const back = await streamDigest(await store.get(`${ns}/model.safetensors`));
      assert.deepEqual(back, { sha256: source.digest(), size });
      const whole = await readObject(store, `${ns}/model.safetensors`);
      const start = 5 * MiB + 17;
      const slice = await readObject(store, `${ns}/model.safetensors`, { start, end: start + 2 * MiB - 1 });
      assert.equal(slice.length, 2 * MiB);
      assert.equal(sha256(slice), sha256(whole.subarray(start, start + 2 * MiB)));
    });

    it('uploads a large buffer (multipart on S3) intact', async () => {
      const body = randomBytes(12 * MiB);
      const put = await store.put(`${ns}/big.bin`, body);
      assert.equal(put.size, body.length);
      assert.equal(sha256(await readObject(store, `${ns}/big.bin`)), sha256(body));
    });

    it('a put from a stream that fails leaves nothing behind, small or multipart-sized', async () => {
      await assert.rejects(store.put(`${ns}/broken-small`, failingStream(3 * MiB, 'disk read failed')), /disk read failed/);
      await assert.rejects(store.put(`${ns}/broken-large`, failingStream(11 * MiB, 'disk read failed')), /disk read failed/);
      assert.equal(await store.head(`${ns}/broken-small`), null);
      assert.equal(await store.head(`${ns}/broken-large`), null);
      assert.deepEqual(await keysIn(ns), []);
      await store.put(`${ns}/old`, Buffer.from('old'));
      await assert.rejects(store.put(`${ns}/old`, failingStream(MiB, 'network gone')), /network gone/);
      assert.equal((await readObject(store, `${ns}/old`)).toString(), 'old', 'a failed overwrite keeps the old object');
    });

    it('rejects keys that are empty, absolute, have ../. segments, backslashes, NUL or reserved names', async () => {
      const badKeys = ['', '../x', '/abs', 'a/../../b', 'a\\b', '..', '.', 'a/./b', 'a//b', 'a/', 'nul\u0000byte', 'line\nbreak', '.hifi-meta.x', 'a/.hifi-tmp-1', 'x'.repeat(1025)];
      const good = `${ns}/good`;
      await store.put(good, Buffer.from('g'));
      for (const key of badKeys) {
        const label = JSON.stringify(key);
        await assert.rejects(store.put(key, Buffer.from('evil')), invalidKey, `put ${label}`);
        await assert.rejects(store.put(key, Readable.from([Buffer.from('evil')])), invalidKey, `put stream ${label}`);
        await assert.rejects(store.get(key), invalidKey, `get ${label}`);
        await assert.rejects(store.head(key), invalidKey, `head ${label}`);
        await assert.rejects(store.delete(key), invalidKey, `delete ${label}`);
        await assert.rejects(store.copy(good, key), invalidKey, `copy to ${label}`);
        await assert.rejects(store.copy(key, good), invalidKey, `copy from ${label}`);
        await assert.rejects(store.rename(good, key), invalidKey, `rename to ${label}`);
        await assert.rejects(store.presignGet(key, 60), invalidKey, `presign ${label}`);
      }
      for (const prefix of ['../x', '/abs', 'a/../../b', 'a\\b', 'a//b', '..']) {
        await assert.rejects(store.list(prefix), invalidKey, `list ${JSON.stringify(prefix)}`);
        await assert.rejects(store.deletePrefix(prefix), invalidKey, `deletePrefix ${JSON.stringify(prefix)}`);
      }
      await assert.rejects(writeArtifactsAtomically(store, '../escape', async () => 1), invalidKey);
      await assert.rejects(writeArtifactsAtomically(store, `${ns}/ok`, (writer) => writer.put('../../x', Buffer.from('x'))), invalidKey);
      assert.deepEqual(await keysIn(ns), [good], 'nothing was written by the rejected calls');
      assert.equal((await readObject(store, good)).toString(), 'g');
    });

    it('accepts keys with spaces, unicode and punctuation', async () => {
      const plus = `${ns}/reports/résumé 2024 (final)+v1.json`;
      await store.put(plus, Buffer.from('ü'), { contentType: 'application/json; charset=utf-8' });
      assert.equal((await readObject(store, plus)).toString(), 'ü');
      assert.equal((await store.head(plus))?.contentType, 'application/json; charset=utf-8');
      const punctuated = `${ns}/reports/heads, layer=3; by @me ü.json`;
      await store.put(punctuated, Buffer.from('p'));
      assert.deepEqual(await keysIn(`${ns}/reports`), [plus, punctuated].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      await store.copy(punctuated, `${ns}/copied/ü é.json`);
      assert.equal((await readObject(store, `${ns}/copied/ü é.json`)).toString(), 'p');
    });

    it('copies and renames objects with their content type; a missing source is NotFoundError', async () => {
      await store.put(`${ns}/src.json`, Buffer.from('{}'), { contentType: 'application/json' });
      await store.put(`${ns}/dst/old.json`, Buffer.from('old'));
      await store.copy(`${ns}/src.json`, `${ns}/dst/old.json`);
      assert.equal((await readObject(store, `${ns}/dst/old.json`)).toString(), '{}');
      assert.equal((await store.head(`${ns}/dst/old.json`))?.contentType, 'application/json');
      assert.ok((await store.head(`${ns}/src.json`)) !== null, 'copy keeps the source');
      await store.rename(`${ns}/src.json`, `${ns}/moved/here.json`);
      assert.equal(await store.head(`${ns}/src.json`), null);
      assert.equal((await store.head(`${ns}/moved/here.json`))?.contentType, 'application/json');
      assert.equal((await readObject(store, `${ns}/moved/here.json`)).toString(), '{}');
      await assert.rejects(store.copy(`${ns}/nope`, `${ns}/x`), notFound);
      await assert.rejects(store.rename(`${ns}/nope`, `${ns}/x`), notFound);
      assert.equal(await store.head(`${ns}/x`), null);
    });

    it('promotes a folder over another, replacing the old set whole', async () => {
      await store.put(`${ns}/final/stale.txt`, Buffer.from('stale'));
      await store.put(`${ns}/final/kept-name.txt`, Buffer.from('old'));
      await store.put(`${ns}/staging/kept-name.txt`, Buffer.from('new'));
      await store.put(`${ns}/staging/deep/w.bin`, Buffer.from('w'), { contentType: 'application/x-weights' });
      assert.equal(await store.promotePrefix(`${ns}/staging`, `${ns}/final`), 2);
      assert.deepEqual(await keysIn(ns), [`${ns}/final/deep/w.bin`, `${ns}/final/kept-name.txt`]);
      assert.equal((await readObject(store, `${ns}/final/kept-name.txt`)).toString(), 'new');
      assert.equal((await store.head(`${ns}/final/deep/w.bin`))?.contentType, 'application/x-weights');
      await assert.rejects(store.promotePrefix(`${ns}/final`, `${ns}/final/inner`), invalidKey);
      await assert.rejects(store.promotePrefix(`${ns}/final`, `${ns}/final`), invalidKey);
    });

    it('writes artifacts atomically: nothing under the final prefix until every file is complete', async () => {
      const final = `${ns}/jobs/42/artifacts`;
      const result = await writeArtifactsAtomically(store, final, async (writer) => {
        assert.ok(writer.tempPrefix.startsWith(`${final}.tmp-`));
        await writer.put('config.json', Buffer.from('{"heads":[3,7]}'), { contentType: 'application/json' });
        await writer.put('model/weights.bin', Readable.from([randomBytes(1000)]));
        assert.deepEqual(await keysIn(final), [], 'the final prefix is empty while writing');
        assert.deepEqual(await keysIn(writer.tempPrefix), [`${writer.tempPrefix}/config.json`, `${writer.tempPrefix}/model/weights.bin`]);
        return 'done';
      });
      assert.equal(result, 'done');
      assert.deepEqual(await keysIn(final), [`${final}/config.json`, `${final}/model/weights.bin`]);
      assert.equal((await store.head(`${final}/config.json`))?.contentType, 'application/json');
      assert.deepEqual(await keysIn(`${ns}/jobs/42`), [`${final}/config.json`, `${final}/model/weights.bin`], 'no temp objects are left');

      // A second run replaces the set whole.
      await writeArtifactsAtomically(store, final, (writer) => writer.put('report.json', Buffer.from('{}')));
      assert.deepEqual(await keysIn(final), [`${final}/report.json`]);

      // An empty set is a set too: the final prefix ends up empty, and no temp folder is left.
      await writeArtifactsAtomically(store, final, async () => undefined);
      assert.deepEqual(await keysIn(ns), []);
    });

    it('a failure inside the write leaves nothing under the final prefix (and keeps an earlier set)', async () => {
      const final = `${ns}/jobs/7/artifacts`;
      await assert.rejects(writeArtifactsAtomically(store, final, async (writer) => {
        await writer.put('model/weights.bin', randomBytes(4096));
        await writer.put('half.bin', failingStream(MiB, 'worker killed')); // this one fails midway
      }), /worker killed/);
      assert.deepEqual(await keysIn(final), []);
      assert.deepEqual(await keysIn(ns), [], 'the temp objects were removed too');

      await writeArtifactsAtomically(store, final, (writer) => writer.put('v1.txt', Buffer.from('v1')));
      await assert.rejects(writeArtifactsAtomically(store, final, async (writer) => {
        await writer.put('v2.txt', Buffer.from('v2'));
        throw new Error('evaluation failed');
      }), /evaluation failed/);
      assert.deepEqual(await keysIn(final), [`${final}/v1.txt`]);
      assert.equal((await readObject(store, `${final}/v1.txt`)).toString(), 'v1');
    });

    it('removes temp folders a crashed writer left behind, and nothing else', async () => {
      const final = `${ns}/jobs/9/artifacts`;
      await store.put(`${final}/ok.txt`, Buffer.from('ok'));
      const abandoned = tempPrefixFor(final); // as if the process died before promoting
      await store.put(`${abandoned}/partial.bin`, Buffer.from('p'));
      await store.put(`${ns}/jobs/9/artifacts-other/keep.txt`, Buffer.from('k'));
      assert.deepEqual(await keysIn(final), [`${final}/ok.txt`], 'the temp folder is not visible under the final prefix');
      assert.equal(await removeAbandonedTemps(store, final, { olderThanMs: 3_600_000 }), 0, 'recent temps are kept');
      assert.equal(await removeAbandonedTemps(store, final), 1);
      assert.deepEqual(await keysIn(`${ns}/jobs/9`), [`${ns}/jobs/9/artifacts-other/keep.txt`, `${final}/ok.txt`]);
    });

    it(options.presignedUrls ? 'presigns GET URLs that serve the bytes over HTTP' : 'has no presigned URLs (null)', async () => {
      const body = randomBytes(70_000);
      await store.put(`${ns}/download.bin`, body, { contentType: 'application/x-test' });
      await assert.rejects(store.presignGet(`${ns}/download.bin`, 0), RangeError);
      await assert.rejects(store.presignGet(`${ns}/download.bin`, 8 * 24 * 3600), RangeError);
      const url = await store.presignGet(`${ns}/download.bin`, 60);
      if (!options.presignedUrls) {
        assert.equal(url, null);
        return;
      }
      assert.ok(url !== null);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/x-test');
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(body));
      const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
      assert.equal(ranged.status, 206);
      assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(10, 20)));
    });
  });
}
