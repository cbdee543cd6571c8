// End to end, bad input: what the API can tell at submission is a 4xx problem+json; what only loading can tell
// (a model folder that is not a checkpoint, corrupt safetensors, a dataset whose rows are all bad) is a `failed`
// job with a readable {code, message, param}, without retries. Through all of it the server and the worker keep
// serving: a good job still succeeds at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetStore, newDatasetId, storageKeys, type Job, type JobEvent } from '@hifi/jobs';
import { E2E, TINY_BERT, tinyJob } from './helpers/e2e.ts';

let e2e: E2E;
before(async () => {
  e2e = await E2E.start();
  await e2e.startWorker();
});
after(() => e2e.close());

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  param?: string;
}

async function expectProblem(res: { status: number; headers: Headers; body: unknown }, status: number, code: string): Promise<Problem> {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const p = res.body as Problem;
  assert.equal(p.code, code);
  assert.equal(p.status, status);
  assert.ok(p.detail.length > 0);
  return p;
}

async function expectFailed(job: Job, code: string, param: string | undefined, pattern: RegExp): Promise<Job> {
  const done = await e2e.waitForEnd(job.id, 60_000);
  assert.equal(done.status, 'failed');
  assert.equal(done.error?.code, code, JSON.stringify(done.error));
  assert.equal(done.error?.param, param);
  assert.match(done.error!.message, pattern);
  const events = (await e2e.request<{ items: JobEvent[] }>('GET', `/v1/jobs/${job.id}/events?limit=1000`)).body.items;
  // Failed at once: one attempt, no retry (it never went back to queued).
  const statuses = events.flatMap((e) => (e.type === 'status_changed' ? [e.data.to] : []));
  assert.equal(statuses.filter((s) => s === 'queued').length, 1, statuses.join(' → '));
  assert.ok(events.some((e) => e.type === 'error' && e.data.code === code));
  return done;
}

test('unknown task → 422 UNKNOWN_TASK', async () => {
  const p = await expectProblem(await e2e.request('POST', '/v1/jobs', tinyJob({ task: 'glue:NO-SUCH-TASK' })), 422, 'UNKNOWN_TASK');
  assert.equal(p.param, 'task');
  await expectProblem(await e2e.request('POST', '/v1/jobs', tinyJob({ task: 'sst2' })), 400, 'VALIDATION_FAILED');
});

test('unknown or disallowed model → 422 UNKNOWN_MODEL / MODEL_NOT_ALLOWED', async () => {
  const unknown = await expectProblem(await e2e.request('POST', '/v1/jobs', tinyJob({ model: 'no-such-model' })), 422, 'UNKNOWN_MODEL');
  assert.equal(unknown.param, 'model');
  await expectProblem(await e2e.request('POST', '/v1/jobs', tinyJob({ model: '/etc' })), 422, 'MODEL_NOT_ALLOWED');
  await expectProblem(await e2e.request('POST', '/v1/jobs', tinyJob({ model: join(e2e.dir, 'models', 'missing') })), 422, 'UNKNOWN_MODEL');
});

test('a model folder that is not a checkpoint → failed MODEL_LOAD_FAILED', async () => {
  const dir = join(e2e.dir, 'models', 'not-a-model');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'README.md'), 'nothing to load here\n');
  const job = await e2e.submit(tinyJob({ model: dir }));
  await expectFailed(job, 'MODEL_LOAD_FAILED', 'model', /config\.json/);
});

test('corrupt safetensors → failed MODEL_LOAD_FAILED naming the file', async () => {
  const dir = join(e2e.dir, 'models', 'corrupt-bert');
  await cp(TINY_BERT, dir, { recursive: true });
  const weights = await readFile(join(dir, 'model.safetensors'));
  // Keep the size, break the JSON header.
  weights.fill(0x7b, 8, 64);
  await writeFile(join(dir, 'model.safetensors'), weights);
  const job = await e2e.submit(tinyJob({ model: 'corrupt-bert' }));
  await expectFailed(job, 'MODEL_LOAD_FAILED', 'model', /model\.safetensors/);
});

test('a dataset with only bad rows: 422 at upload; a stored one fails the job with INVALID_DATASET', async () => {
  const bad = ['{"text": "", "label": "pos"}', '{"label": "neg"}', '{"text": "fine", "label": null}', 'not json'].join('\n');
  const form = new FormData();
  form.append('file', new Blob([bad], { type: 'application/x-ndjson' }), 'bad.jsonl');
  const upload = await expectProblem(await e2e.request('POST', '/v1/datasets', form), 422, 'INVALID_DATASET');
  assert.match(upload.detail, /bad\.jsonl|rows/);

  // A record whose stored file has only bad rows (written before the current checks, or replaced in storage):
  // the worker finds out when it loads the data.
  const id = newDatasetId();
  const key = storageKeys.datasetFile(id, 'jsonl');
  await e2e.store.put(key, Buffer.from(bad));
  await new DatasetStore({ redis: e2e.redis, prefix: e2e.prefix }).create({
    id, tenant: 'e2e', filename: 'bad.jsonl', format: 'jsonl', size: bad.length, sha256: createHash('sha256').update(bad).digest('hex'),
    rows: 4, columns: ['text', 'label'], labels: ['neg', 'pos'], task: 'classification', rejectedCount: 0, rejected: [], storageKey: key,
    createdAt: new Date().toISOString(),
  });
  const job = await e2e.submit(tinyJob({ task: { datasetId: id } }));
  await expectFailed(job, 'INVALID_DATASET', 'task', /no valid rows|line 1/);
});

test('after all that, the API and the worker still serve: a good job succeeds', async () => {
  assert.equal((await e2e.request('GET', '/healthz')).status, 200);
  assert.equal((await e2e.request('GET', '/readyz')).status, 200);
  const job = await e2e.submit(tinyJob({ hyperparameters: { maxTrainExamples: 32, epochs: 1, maxLength: 16, batchSize: 16, analysisSamples: 16 } }));
  const done = await e2e.waitForEnd(job.id, 60_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
});
