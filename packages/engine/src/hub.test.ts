import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { downloadHubRepo, hubCacheDir, parseHubSource, resolveModelSource } from './hub.ts';
import type { DownloadEvent, HubOptions } from './hub.ts';
import { HubError, ModelSourceError } from './errors.ts';
import { loadCheckpointDir } from './checkpoint.ts';
import { readSafetensors, writeShardedSafetensors } from './safetensors.ts';
import { startHubServer } from './testing/hub-server.ts';
import type { HubServer } from './testing/hub-server.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
const FIXTURES = join(SHARED, 'fixtures');
const TINY_BERT_WEIGHTS = join(FIXTURES, 'tiny-bert/model.safetensors');

let tmp: string;
let server: HubServer;
let cacheN = 0;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hifi-hub-'));
  server = await startHubServer({ root: FIXTURES, redirectSuffixes: ['.safetensors'] });
});
after(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Options for a fresh cache against `srv`, recording the per-file events. */
function options(srv: HubServer, extra: HubOptions = {}): HubOptions & { events: DownloadEvent[] } {
  const events: DownloadEvent[] = [];
  return { endpoint: srv.url, token: '', cacheDir: join(tmp, `cache-${++cacheN}`), onFile: (e) => events.push(e), events, ...extra };
}

function assertHubError(err: unknown, code: string, pattern: RegExp): true {
  assert.ok(err instanceof HubError, `expected HubError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
}

describe('parseHubSource', () => {
  test('org/name, revision, and malformed sources', () => {
    assert.deepEqual(parseHubSource('hf:google-bert/bert-base-uncased'), { repo: 'google-bert/bert-base-uncased', revision: 'main' });
    assert.deepEqual(parseHubSource('hf:FacebookAI/roberta-base@refs/pr/3'), { repo: 'FacebookAI/roberta-base', revision: 'refs/pr/3' });
    assert.deepEqual(parseHubSource('hf:bert-base-uncased@a1b2c3'), { repo: 'bert-base-uncased', revision: 'a1b2c3' });
    assert.equal(parseHubSource('/models/x'), undefined);
    for (const bad of ['hf:', 'hf:a/b/c', 'hf:../etc', 'hf:org/name@', 'hf:org/name@../x', 'hf:org/na me']) {
      assert.throws(() => parseHubSource(bad), (err: unknown) => err instanceof ModelSourceError && err.code === 'INVALID_MODEL_SOURCE' && err.message.startsWith(bad), bad);
    }
  });
});

describe('downloading from a hub-like server', () => {
  test('downloads config, weights (through a redirect) and the tokenizer files that exist; the second call is served from the cache', async () => {
    const opts = options(server);
    const before = server.requests.length;
    const dir = await resolveModelSource('hf:fixtures/tiny-bert', opts);
    assert.equal(dir, hubCacheDir({ repo: 'fixtures/tiny-bert', revision: 'main' }, opts));
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files, ['.hifi-complete.json', 'config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt']);
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), await readFile(TINY_BERT_WEIGHTS));
    const log = server.requests.slice(before);
    assert.ok(log.some((r) => r.path === '/fixtures/tiny-bert/resolve/main/model.safetensors' && r.status === 302));
    assert.ok(log.some((r) => r.path === '/cdn/tiny-bert/model.safetensors' && r.status === 200));
    assert.ok(log.some((r) => r.path.endsWith('/merges.txt') && r.status === 404), 'optional files may 404');
    assert.deepEqual(opts.events.map((e) => e.file), ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt']);
    assert.ok(opts.events.every((e) => !e.cached && e.resumedFrom === 0));
    // the downloaded directory is a loadable checkpoint
    const ck = await loadCheckpointDir(dir);
    assert.equal(ck.config.numLabels, 3);

    const mid = server.requests.length;
    assert.equal(await resolveModelSource('hf:fixtures/tiny-bert', opts), dir);
    assert.equal(server.requests.length, mid, 'a completed download makes no requests');
  });

  test('the revision goes into the URL and the cache path', async () => {
    const opts = options(server);
    const before = server.requests.length;
    const dir = await resolveModelSource('hf:fixtures/tiny-roberta@v1.0', opts);
    assert.ok(dir.endsWith(join('fixtures--tiny-roberta', 'v1.0')));
    assert.ok(server.requests.slice(before).every((r) => r.path.startsWith('/fixtures/tiny-roberta/resolve/v1.0/') || r.path.startsWith('/cdn/')));
    assert.deepEqual((await readdir(dir)).sort(), ['.hifi-complete.json', 'config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
  });

  test('an interrupted download keeps its .part and the next call resumes it with a Range request', async () => {
    const opts = options(server, { retries: 0 });
    const full = await readFile(TINY_BERT_WEIGHTS);
    server.cutConnection('model.safetensors', 3_000_000);
    await assert.rejects(resolveModelSource('hf:fixtures/tiny-bert', opts),
      (err: unknown) => assertHubError(err, 'HUB_NETWORK_ERROR', /^hf:fixtures\/tiny-bert: model.safetensors: connection lost after \d+ bytes/));
    const dir = hubCacheDir({ repo: 'fixtures/tiny-bert', revision: 'main' }, opts);
    const partSize = (await stat(join(dir, 'model.safetensors.part'))).size;
    assert.ok(partSize > 0 && partSize <= 3_000_000, `part size ${partSize}`);
    assert.ok(!(await readdir(dir)).includes('model.safetensors'), 'no final file for an incomplete download');
    assert.ok(!(await readdir(dir)).includes('.hifi-complete.json'));

    const before = server.requests.length;
    const firstEvents = opts.events.length;
    await resolveModelSource('hf:fixtures/tiny-bert', opts);
    const events = opts.events.slice(firstEvents);
    const resumed = server.requests.slice(before).find((r) => r.path === '/cdn/tiny-bert/model.safetensors');
    assert.equal(resumed?.range, `bytes=${partSize}-`);
    assert.equal(resumed?.status, 206);
    assert.deepEqual(events.find((e) => e.file === 'model.safetensors'), { file: 'model.safetensors', bytes: full.length, cached: false, resumedFrom: partSize });
    assert.ok(events.find((e) => e.file === 'config.json')?.cached, 'files finished before the cut are not fetched again');
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), full);
    assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.part')));
  });

  test('with retries, a cut connection is resumed within the same call', async () => {
    const opts = options(server);
    server.cutConnection('model.safetensors', 1_000_000, 2);
    const before = server.requests.length;
    const dir = await resolveModelSource('hf:fixtures/tiny-bert', opts);
    const ranges = server.requests.slice(before).filter((r) => r.path === '/cdn/tiny-bert/model.safetensors').map((r) => r.range);
    assert.equal(ranges.length, 3);
    assert.equal(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/);
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), await readFile(TINY_BERT_WEIGHTS));
  });

  test('a server that ignores Range (200) replaces the .part; a .part that is already complete (416) is kept', async () => {
    const plain = await startHubServer({ root: FIXTURES, ignoreRange: true });
    try {
      const opts = options(plain);
      const dir = hubCacheDir({ repo: 'fixtures/tiny-bert', revision: 'main' }, opts);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'model.safetensors.part'), Buffer.alloc(5000, 7)); // stale garbage
      await resolveModelSource('hf:fixtures/tiny-bert', opts);
      assert.deepEqual(await readFile(join(dir, 'model.safetensors')), await readFile(TINY_BERT_WEIGHTS));
      assert.equal(opts.events.find((e) => e.file === 'model.safetensors')?.resumedFrom, 0);
    } finally {
      await plain.close();
    }
    const opts = options(server);
    const dir = hubCacheDir({ repo: 'fixtures/tiny-bert', revision: 'main' }, opts);
    await mkdir(dir, { recursive: true });
    await copyFile(TINY_BERT_WEIGHTS, join(dir, 'model.safetensors.part'));
    const before = server.requests.length;
    await resolveModelSource('hf:fixtures/tiny-bert', opts);
    assert.ok(server.requests.slice(before).some((r) => r.path === '/cdn/tiny-bert/model.safetensors' && r.status === 416));
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), await readFile(TINY_BERT_WEIGHTS));
  });

  test('a download locked by another process is waited for; a stale lock is taken over', async () => {
    const opts = options(server);
    const dir = hubCacheDir({ repo: 'fixtures/tiny-bert', revision: 'main' }, opts);
    await mkdir(dir, { recursive: true });
    // "another process" holds config.json's lock and finishes the file 300 ms later
    await writeFile(join(dir, 'config.json.lock'), '99999\n');
    const other = (async () => {
      await new Promise((r) => setTimeout(r, 300));
      await copyFile(join(FIXTURES, 'tiny-bert/config.json'), join(dir, 'config.json'));
      await rm(join(dir, 'config.json.lock'));
    })();
    // a lock left behind long ago by a dead process
    await writeFile(join(dir, 'model.safetensors.lock'), '99998\n');
    const old = new Date(Date.now() - 120_000);
    await utimes(join(dir, 'model.safetensors.lock'), old, old);
    const before = server.requests.length;
    await resolveModelSource('hf:fixtures/tiny-bert', opts);
    await other;
    const log = server.requests.slice(before);
    assert.ok(!log.some((r) => r.path.endsWith('/config.json')), 'the file completed by the lock holder is not fetched');
    assert.ok(opts.events.find((e) => e.file === 'config.json')?.cached);
    assert.deepEqual(await readFile(join(dir, 'model.safetensors')), await readFile(TINY_BERT_WEIGHTS));
    assert.ok(!(await readdir(dir)).some((f) => f.includes('.lock')), 'no locks left behind');
  });

  test('a sharded repo: index and every shard are fetched, and the result loads', async () => {
    const root = join(tmp, 'repos');
    const repo = join(root, 'sharded-bert');
    await mkdir(repo, { recursive: true });
    await copyFile(join(FIXTURES, 'tiny-bert/config.json'), join(repo, 'config.json'));
    const { tensors } = await readSafetensors(TINY_BERT_WEIGHTS);
    await writeShardedSafetensors(repo, tensors, 3_000_000);
    const srv = await startHubServer({ root });
    try {
      const opts = options(srv);
      const dir = await resolveModelSource('hf:org/sharded-bert', opts);
      const shards = opts.events.filter((e) => /^model-\d+-of-\d+\.safetensors$/.test(e.file));
      assert.ok(shards.length >= 2);
      const ck = await loadCheckpointDir(dir);
      assert.equal(ck.weights.size, tensors.size);
      assert.equal(ck.files.index, join(dir, 'model.safetensors.index.json'));
    } finally {
      await srv.close();
    }
  });
});

describe('download errors name the repo and file', () => {
  test('404 for a repo that does not exist', async () => {
    await assert.rejects(resolveModelSource('hf:fixtures/no-such-model', options(server)),
      (err: unknown) => assertHubError(err, 'HUB_NOT_FOUND', /^hf:fixtures\/no-such-model: config.json: not found \(HTTP 404\) at revision "main"/));
  });

  test('401 without a token, success with the right one', async () => {
    const srv = await startHubServer({ root: FIXTURES, token: 'secret-token' });
    try {
      await assert.rejects(resolveModelSource('hf:fixtures/tiny-bert', options(srv)),
        (err: unknown) => assertHubError(err, 'HUB_UNAUTHORIZED', /^hf:fixtures\/tiny-bert: config.json: access denied \(HTTP 401\): .*set HF_TOKEN/));
      await assert.rejects(resolveModelSource('hf:fixtures/tiny-bert', options(srv, { token: 'wrong' })),
        (err: unknown) => assertHubError(err, 'HUB_UNAUTHORIZED', /token in HF_TOKEN has no access/));
      const before = srv.requests.length;
      const dir = await resolveModelSource('hf:fixtures/tiny-bert', options(srv, { token: 'secret-token' }));
      assert.ok((await readdir(dir)).includes('model.safetensors'));
      assert.ok(srv.requests.slice(before).every((r) => r.authorization === 'Bearer secret-token'));
    } finally {
      await srv.close();
    }
  });

  test('a network failure (nothing listening)', async () => {
    const srv = await startHubServer({ root: FIXTURES });
    await srv.close();
    await assert.rejects(resolveModelSource('hf:fixtures/tiny-bert', options(srv, { retries: 0 })),
      (err: unknown) => assertHubError(err, 'HUB_NETWORK_ERROR', /^hf:fixtures\/tiny-bert: config.json: request to http:\/\/127.0.0.1:\d+\/.* failed: fetch failed \(ECONNREFUSED/));
  });

  test('a repo with only pytorch_model.bin is refused clearly', async () => {
    const root = join(tmp, 'pt-repos');
    await mkdir(join(root, 'pt-only'), { recursive: true });
    await copyFile(join(FIXTURES, 'tiny-bert/config.json'), join(root, 'pt-only/config.json'));
    await writeFile(join(root, 'pt-only/pytorch_model.bin'), 'PK');
    const srv = await startHubServer({ root });
    try {
      await assert.rejects(downloadHubRepo({ repo: 'org/pt-only', revision: 'main' }, options(srv)),
        (err: unknown) => assertHubError(err, 'HUB_NOT_FOUND', /^hf:org\/pt-only: model.safetensors: the repo has only pytorch_model.bin; pickled PyTorch weights are not supported/));
    } finally {
      await srv.close();
    }
  });
});

describe('local directories', () => {
  test('a directory resolves to its real path; allowDirs confines it, symlinks included', async () => {
    const allowed = join(tmp, 'allowed');
    await mkdir(join(allowed, 'model'), { recursive: true });
    await symlink(FIXTURES, join(allowed, 'escape'));
    assert.equal(await resolveModelSource(join(allowed, 'model'), { allowDirs: [allowed] }), join(allowed, 'model'));
    assert.equal(await resolveModelSource(join(FIXTURES, 'tiny-bert')), join(FIXTURES, 'tiny-bert'));
    const denied = (code: string) => (err: unknown) => err instanceof ModelSourceError && err.code === code;
    await assert.rejects(resolveModelSource(join(FIXTURES, 'tiny-bert'), { allowDirs: [allowed] }), denied('MODEL_SOURCE_NOT_ALLOWED'));
    await assert.rejects(resolveModelSource(join(allowed, 'escape', 'tiny-bert'), { allowDirs: [allowed] }), denied('MODEL_SOURCE_NOT_ALLOWED'));
    await assert.rejects(resolveModelSource(join(allowed, '..', '..'), { allowDirs: [allowed] }), denied('MODEL_SOURCE_NOT_ALLOWED'));
    await assert.rejects(resolveModelSource('/nonexistent/place', { allowDirs: [allowed] }), denied('MODEL_SOURCE_NOT_ALLOWED'));
    await assert.rejects(resolveModelSource(join(allowed, 'missing'), { allowDirs: [allowed] }), denied('MODEL_SOURCE_NOT_FOUND'));
    await assert.rejects(resolveModelSource('some-org/some-model-that-is-not-here'), /no such directory \(for a hub model write "hf:some-org\/some-model-that-is-not-here"\)/);
    await assert.rejects(resolveModelSource(TINY_BERT_WEIGHTS), /is not a directory/);
  });
});
