import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { removeAbandonedTemps } from './atomic-artifacts.ts';
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

  it('answers any byte range of an empty file with INVALID_RANGE (416), as S3 does', async () => {
    const store = new FsStore(join(workDir, 'empty-range'));
    await store.put('empty', Buffer.alloc(0));
    await assert.rejects(store.get('empty', { start: 0 }), { name: 'InvalidRangeError', code: 'INVALID_RANGE' });
    assert.equal((await readObject(store, 'empty')).length, 0);
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

  it('a writer killed mid-file (SIGKILL) leaves nothing under the final prefix', async () => {
    const root = join(workDir, 'crash');
    // The child writes one whole file, then streams a second one that stalls after 1 MiB, and is killed there.
    const program = `
      const { FsStore } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'fs-store.ts')).href)});
      const { writeArtifactsAtomically } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'atomic-artifacts.ts')).href)});
      const { PassThrough } = await import('node:stream');
      const store = new FsStore(${JSON.stringify(root)});
      setInterval(() => {}, 1000); // a stalled stream alone would not keep the process alive
      await writeArtifactsAtomically(store, 'jobs/1/artifacts', async (writer) => {
        await writer.put('config.json', Buffer.from('{}'));
        const stalled = new PassThrough();
        stalled.write(Buffer.alloc(1024 * 1024, 7));
        process.stdout.write('writing\\n');
        await writer.put('model.bin', stalled); // never ends
      });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    try {
      await once(child.stdout, 'data');
      const store = new FsStore(root);
      // wait until the half-written file really is on disk
      let halfWritten = false;
      for (let i = 0; i < 300 && !halfWritten; i++) {
        const temps = (await readdir(join(root, 'jobs', '1'))).filter((name) => name.startsWith('artifacts.tmp-'));
        const inTemp = temps.length === 1 ? await readdir(join(root, 'jobs', '1', temps[0] as string)) : [];
        for (const name of inTemp.filter((n) => n.startsWith('.hifi-tmp-'))) {
          if ((await stat(join(root, 'jobs', '1', temps[0] as string, name))).size > 0) halfWritten = true;
        }
        if (!halfWritten) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(halfWritten, 'the child got as far as a half-written model.bin');
      assert.equal(child.exitCode, null, 'the writer was still running when it was killed');
      child.kill('SIGKILL');
      await exited;
      assert.deepEqual(await store.list('jobs/1/artifacts'), []);
      assert.equal(await store.head('jobs/1/artifacts/config.json'), null);
      const left = (await store.list('jobs/1')).map((item) => item.key);
      assert.equal(left.length, 1, 'only the whole config.json, in the temp folder');
      assert.match(left[0] ?? '', /^jobs\/1\/artifacts\.tmp-[0-9a-f-]{36}\/config\.json$/);
      assert.equal(await removeAbandonedTemps(store, 'jobs/1/artifacts'), 1);
      assert.deepEqual(await store.list(''), []);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('ping() fails with STORAGE_UNAVAILABLE when the data directory cannot be made', async () => {
    await writeFile(join(workDir, 'a-file'), 'not a directory');
    const store = new FsStore(join(workDir, 'a-file', 'data'));
    await assert.rejects(store.ping(), { name: 'StorageUnavailableError', code: 'STORAGE_UNAVAILABLE', message: /a-file/ });
  });
});
