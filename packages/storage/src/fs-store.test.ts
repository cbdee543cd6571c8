import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsStore } from './fs-store.ts';
import { readObject } from './object-bytes.ts';
import { runObjectStoreSuite } from './object-store-suite.ts';

let workDir: string;
before(async () => { workDir = await mkdtemp(join(tmpdir(), 'hifi-fs-store-')); });
after(async () => { await rm(workDir, { recursive: true, force: true }); });

runObjectStoreSuite('FsStore', async () => new FsStore(join(workDir, 'suite')), { presignedUrls: false });

describe('FsStore on the filesystem', () => {
  it('keeps every key inside the data directory, even through symlinks', async () => {
    const root = join(workDir, 'escape', 'data');
    const outside = join(workDir, 'escape', 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret.txt'), 'secret');
    const store = new FsStore(root);
    await store.put('ok.txt', Buffer.from('ok'));
    await symlink(outside, join(root, 'link'));
    await assert.rejects(store.get('link/secret.txt'), { code: 'INVALID_KEY', message: /outside the data directory/ });
    await assert.rejects(store.head('link/secret.txt'), { code: 'INVALID_KEY' });
    await assert.rejects(store.put('link/new.txt', Buffer.from('x')), { code: 'INVALID_KEY' });
    await assert.rejects(store.put('link/sub/new.txt', Buffer.from('x')), { code: 'INVALID_KEY' });
    await assert.rejects(store.delete('link/secret.txt'), { code: 'INVALID_KEY' });
    await assert.rejects(store.list('link'), { code: 'INVALID_KEY' });
    for (const key of ['../outside/secret.txt', '../x', '/abs', 'a/../../b', 'a\\b']) {
      await assert.rejects(store.put(key, Buffer.from('x')), { code: 'INVALID_KEY' });
    }
    assert.deepEqual((await readdir(outside)).sort(), ['secret.txt']);
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret');
    assert.deepEqual(await readdir(join(workDir, 'escape')).then((names) => names.sort()), ['data', 'outside']);
    assert.deepEqual((await store.list('')).map((item) => item.key), ['ok.txt'], 'symlinks are not listed as objects');
  });

  it('stores key a/b.txt as the file <root>/a/b.txt and hides its own bookkeeping files', async () => {
    const root = join(workDir, 'layout');
    const store = new FsStore(root);
    await store.put('a/b.txt', Buffer.from('hello'), { contentType: 'text/plain' });
    assert.equal(await readFile(join(root, 'a', 'b.txt'), 'utf8'), 'hello');
    await writeFile(join(root, 'a', '.hifi-tmp-left-by-a-crash'), 'partial');
    assert.deepEqual((await store.list('')).map((item) => item.key), ['a/b.txt']);
    assert.equal((await store.head('a/b.txt'))?.contentType, 'text/plain');
  });

  it('explains that one name cannot be both an object and a folder', async () => {
    const store = new FsStore(join(workDir, 'conflict'));
    await store.put('a', Buffer.from('object'));
    await assert.rejects(store.put('a/b', Buffer.from('x')), { code: 'INVALID_KEY', message: /already an object/ });
    await store.put('c/d', Buffer.from('x'));
    await assert.rejects(store.put('c', Buffer.from('x')), { code: 'INVALID_KEY', message: /folder of other objects/ });
    await store.delete('c/d');
    await store.put('c', Buffer.from('now an object')); // the emptied folder was pruned
    assert.equal((await readObject(store, 'c')).toString(), 'now an object');
  });

  it('ping() fails with STORAGE_UNAVAILABLE when the data directory cannot be made', async () => {
    await writeFile(join(workDir, 'a-file'), 'not a directory');
    const store = new FsStore(join(workDir, 'a-file', 'data'));
    await assert.rejects(store.ping(), { name: 'StorageUnavailableError', code: 'STORAGE_UNAVAILABLE', message: /a-file/ });
  });
});
