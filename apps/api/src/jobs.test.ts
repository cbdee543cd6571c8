import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUEUE_NAMES, type Job } from '@hifi/jobs';
import { jobBody, startApi, type TestApi } from './test-support.ts';

let api: TestApi;
let modelDir: string;

before(async () => {
  modelDir = await mkdtemp(join(tmpdir(), 'hifi-models-'));
  await mkdir(join(modelDir, 'bert-mini-hifi'));
  api = await startApi({ HIFI_MODEL_DIRS: modelDir });
});
after(async () => {
  await api.close();
  await rm(modelDir, { recursive: true, force: true });
});

async function problem(res: Response) {
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  return (await res.json()) as { type: string; title: string; status: number; code: string; detail: string; instance: string; errors?: { path: string; message: string }[] };
}

test('POST /v1/jobs → 202 with the queued job, defaults filled, and a BullMQ job with the same id', async () => {
  const res = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ task: 'glue:sst2', metadata: { team: 'red' } }) });
  assert.equal(res.status, 202);
  const job = (await res.json()) as Job;
  assert.equal(res.headers.get('location'), `/v1/jobs/${job.id}`);
  assert.ok(res.headers.get('x-request-id'));
  assert.equal(job.status, 'queued');
  assert.equal(job.tenant, 'acme');
  assert.equal(job.spec.task, 'glue:SST-2', 'GLUE names are canonicalised');
  assert.equal(job.spec.hyperparameters.batchSize, 32);
  assert.deepEqual(job.spec.budget, { perLayer: 3 });
  const queued = await api.app.hifi.queue('cpu').getJob(job.id);
  assert.equal(queued?.data.jobId, job.id);
  assert.equal(queued?.queueName, QUEUE_NAMES.cpu);
});

test('Idempotency-Key: a retry returns the same job; a different body with the same key is a 422', async () => {
  const headers = { 'idempotency-key': 'retry-me-1' };
  const first = await api.call('/v1/jobs', { method: 'POST', headers, json: jobBody({ seed: 1 }) });
  const second = await api.call('/v1/jobs', { method: 'POST', headers, json: jobBody({ seed: 1 }) });
  assert.equal(first.status, 202);
  assert.equal(second.status, 202);
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  const a = (await first.json()) as Job;
  const b = (await second.json()) as Job;
  assert.equal(b.id, a.id);
  const conflict = await api.call('/v1/jobs', { method: 'POST', headers, json: jobBody({ seed: 2 }) });
  assert.equal(conflict.status, 422);
  assert.equal((await problem(conflict)).code, 'IDEMPOTENCY_KEY_REUSED');
  // The same key is independent for another tenant.
  const other = await api.call('/v1/jobs', { method: 'POST', headers, auth: 'beta', json: jobBody({ seed: 1 }) });
  assert.notEqual(((await other.json()) as Job).id, a.id);
  assert.equal(await api.app.hifi.queue('cpu').getJob(a.id).then((j) => j?.id), a.id);
});

test('GET /v1/jobs pages with a cursor and filters by status and metadata; GET /v1/jobs/{id}', async () => {
  const created: Job[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await api.call('/v1/jobs', { method: 'POST', auth: 'beta', json: jobBody({ metadata: { batch: 'list-test', n: String(i), parity: i % 2 ? 'odd' : 'even' } }) });
    created.push((await res.json()) as Job);
  }
  await api.jobs.updateStatus(created[2]!.id, 'analyzing');
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await api.call(`/v1/jobs?limit=2&metadata.batch=list-test${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { auth: 'beta' });
    assert.equal(res.status, 200);
    const page = (await res.json()) as { items: Job[]; nextCursor: string | null };
    ids.push(...page.items.map((j) => j.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.deepEqual(ids, created.map((j) => j.id).reverse(), 'newest first, each job once');

  const odd = (await (await api.call('/v1/jobs?metadata.batch=list-test&metadata.parity=odd', { auth: 'beta' })).json()) as { items: Job[] };
  assert.deepEqual(odd.items.map((j) => j.spec.metadata.n), ['3', '1']);
  const analyzing = (await (await api.call('/v1/jobs?status=analyzing', { auth: 'beta' })).json()) as { items: Job[] };
  assert.deepEqual(analyzing.items.map((j) => j.id), [created[2]!.id]);

  const one = await api.call(`/v1/jobs/${created[2]!.id}`, { auth: 'beta' });
  assert.equal(one.status, 200);
  assert.equal(((await one.json()) as Job).status, 'analyzing');

  const badCursor = await api.call('/v1/jobs?cursor=garbage', { auth: 'beta' });
  assert.equal((await problem(badCursor)).code, 'INVALID_CURSOR');
  const badStatus = await api.call('/v1/jobs?status=running', { auth: 'beta' });
  assert.equal(badStatus.status, 400);
  assert.equal((await problem(badStatus)).errors?.[0]?.path, '/status');
});

test('cancel: a queued job is cancelled at once and leaves the queue; a running one gets cancelRequested', async () => {
  const job = (await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  assert.ok(await api.app.hifi.queue('cpu').getJob(job.id));
  const res = await api.call(`/v1/jobs/${job.id}/cancel`, { method: 'POST' });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as Job).status, 'cancelled');
  assert.equal(await api.app.hifi.queue('cpu').getJob(job.id), undefined, 'removed from BullMQ');

  const running = (await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  await api.jobs.updateStatus(running.id, 'analyzing');
  await api.jobs.updateStatus(running.id, 'training');
  const heard: string[] = [];
  const off = await api.app.hifi.subscriber.onCancel((id) => heard.push(id));
  const res2 = await api.call(`/v1/jobs/${running.id}/cancel`, { method: 'POST' });
  assert.equal(res2.status, 202);
  const body = (await res2.json()) as Job;
  assert.equal(body.status, 'training');
  assert.equal(body.cancelRequested, true);
  for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(heard, [running.id], 'the worker is told on the cancel channel');
  await off();

  await api.jobs.updateStatus(running.id, 'failed', { error: { code: 'TRAINING_DIVERGED', message: 'NaN' } });
  const late = await api.call(`/v1/jobs/${running.id}/cancel`, { method: 'POST' });
  assert.equal(late.status, 409);
  assert.equal((await problem(late)).code, 'CONFLICT');
});

test('DELETE removes the job, its events and artifacts; a running job is a 409', async () => {
  const job = (await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  await api.jobs.updateStatus(job.id, 'analyzing');
  const busy = await api.call(`/v1/jobs/${job.id}`, { method: 'DELETE' });
  assert.equal(busy.status, 409);
  await api.objects.put(`jobs/${job.id}/artifacts/heads.json`, Buffer.from('{}'));
  await api.jobs.addArtifact(job.id, { name: 'heads.json', kind: 'report', size: 2, contentType: 'application/json', createdAt: new Date().toISOString() });
  await api.jobs.updateStatus(job.id, 'cancelled');
  assert.equal((await api.call(`/v1/jobs/${job.id}`, { method: 'DELETE', auth: 'beta' })).status, 404, 'another tenant cannot delete');
  const res = await api.call(`/v1/jobs/${job.id}`, { method: 'DELETE' });
  assert.equal(res.status, 204);
  assert.equal((await api.call(`/v1/jobs/${job.id}`)).status, 404);
  assert.equal(await api.redis.exists(api.jobs.keys.job(job.id), api.jobs.keys.jobEvents(job.id)), 0);
  assert.equal(await api.objects.head(`jobs/${job.id}/artifacts/heads.json`), null);

  const queued = (await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  assert.equal((await api.call(`/v1/jobs/${queued.id}`, { method: 'DELETE' })).status, 204, 'a queued job is cancelled and deleted');
  assert.equal(await api.app.hifi.queue('cpu').getJob(queued.id), undefined);
});

test('auth: no key or a wrong key → 401 problem; another tenant’s job → 404', async () => {
  const missing = await api.call('/v1/jobs', { auth: null });
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="hifi"');
  assert.equal((await problem(missing)).code, 'UNAUTHORIZED');
  const wrong = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: 'Bearer not-a-key-at-all' } });
  assert.equal(wrong.status, 401);
  const malformed = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: 'Basic abc' } });
  assert.equal(malformed.status, 401);
  const job = (await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  for (const path of [`/v1/jobs/${job.id}`, `/v1/jobs/${job.id}/events`, `/v1/jobs/${job.id}/artifacts`, `/v1/jobs/${job.id}/heads`]) {
    const res = await api.call(path, { auth: 'beta' });
    assert.equal(res.status, 404, path);
    assert.equal((await problem(res)).code, 'NOT_FOUND');
  }
  const notListed = (await (await api.call('/v1/jobs?limit=100', { auth: 'beta' })).json()) as { items: Job[] };
  assert.ok(!notListed.items.some((j) => j.id === job.id));
});

test('bad requests get problem documents with field paths, and the server keeps serving', async () => {
  const malformed = await api.call('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "hf:a/b",' });
  assert.equal(malformed.status, 400);
  const p1 = await problem(malformed);
  assert.equal(p1.code, 'MALFORMED_JSON');
  assert.equal(p1.instance, '/v1/jobs');
  assert.equal(p1.type, 'urn:problem-type:hifi:malformed-json');

  const wrongTypes = await api.call('/v1/jobs', {
    method: 'POST',
    json: jobBody({ hyperparameters: { batchSize: 'large', learningRate: -1 }, budget: { perLayer: 2, total: 4 }, strategy: 'best', extra: true }),
  });
  assert.equal(wrongTypes.status, 400);
  const p2 = await problem(wrongTypes);
  assert.equal(p2.code, 'VALIDATION_FAILED');
  const paths = (p2.errors ?? []).map((e) => e.path).sort();
  assert.deepEqual(paths, ['/budget', '/extra', '/hyperparameters/batchSize', '/hyperparameters/learningRate', '/strategy']);
  assert.match(p2.errors!.find((e) => e.path === '/strategy')!.message, /one of: hifi, random/);

  const missing = await api.call('/v1/jobs', { method: 'POST', json: { task: 'glue:RTE' } });
  assert.deepEqual((await problem(missing)).errors, [{ path: '/model', message: 'is required', in: 'body' }]);

  const taskType = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ task: 42 }) });
  assert.deepEqual((await problem(taskType)).errors?.map((e) => e.path), ['/task']);

  const unknownTask = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ task: 'glue:FOO' }) });
  assert.equal(unknownTask.status, 422);
  assert.equal((await problem(unknownTask)).code, 'UNKNOWN_TASK');

  const unknownDataset = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ task: { datasetId: 'ds_0000000001aaaaaaaaaaaa' } }) });
  assert.equal(unknownDataset.status, 422);
  assert.equal((await problem(unknownDataset)).code, 'INVALID_DATASET');

  const textBody = await api.call('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'x' });
  assert.equal(textBody.status, 415);
  assert.equal((await problem(textBody)).code, 'UNSUPPORTED_MEDIA');

  const tooBig = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ metadata: { big: 'x'.repeat(400) }, padding: 'y'.repeat(2 * 1024 * 1024) }) });
  assert.equal(tooBig.status, 413);
  assert.equal((await problem(tooBig)).code, 'PAYLOAD_TOO_LARGE');

  const noRoute = await api.call('/v1/nothing-here');
  assert.equal(noRoute.status, 404);
  assert.equal((await problem(noRoute)).code, 'NOT_FOUND');

  const badId = await api.call('/v1/jobs/not-a-job-id');
  assert.equal(badId.status, 404);

  assert.equal((await api.call('/healthz', { auth: null })).status, 200, 'still serving');
  assert.equal((await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).status, 202);
});

test('model sources: syntax checked; local paths and registered ids only under HIFI_MODEL_DIRS', async () => {
  const cases: [unknown, number, string | null][] = [
    ['hf:org/name@v1.0', 202, null],
    ['s3://models-bucket/bert/mini', 202, null],
    ['bert-mini-hifi', 202, null],
    [join(modelDir, 'bert-mini-hifi'), 202, null],
    ['not a model', 400, 'VALIDATION_FAILED'],
    ['/etc', 422, 'MODEL_NOT_ALLOWED'],
    [join(modelDir, '..', 'elsewhere'), 422, 'MODEL_NOT_ALLOWED'],
    [join(modelDir, 'missing-model'), 422, 'UNKNOWN_MODEL'],
    ['no-such-registered-model', 422, 'UNKNOWN_MODEL'],
  ];
  for (const [model, status, code] of cases) {
    const res = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ model }) });
    assert.equal(res.status, status, String(model));
    if (code) assert.equal((await problem(res)).code, code, String(model));
    else await res.body?.cancel();
  }
  // A symlink inside an allowed directory that points outside it is refused.
  await symlink('/etc', join(modelDir, 'escape'));
  const escape = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ model: join(modelDir, 'escape') }) });
  assert.equal(escape.status, 422);
  assert.equal((await problem(escape)).code, 'MODEL_NOT_ALLOWED');
});

test('job creation is rate limited per tenant (Redis store) with a 429 problem', async () => {
  const limited = await startApi({ HIFI_RATE_LIMIT_JOBS_PER_MINUTE: '2' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await limited.call('/v1/jobs', { method: 'POST', json: jobBody() })).status);
    assert.deepEqual(statuses, [202, 202, 429]);
    const res = await limited.call('/v1/jobs', { method: 'POST', json: jobBody() });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.equal((await problem(res)).code, 'RATE_LIMITED');
    assert.equal((await limited.call('/v1/jobs', { method: 'POST', auth: 'beta', json: jobBody() })).status, 202, 'other tenants have their own budget');
    assert.equal((await limited.call('/v1/jobs')).status, 200, 'reads are not limited');
    assert.ok((await limited.redis.keys(`${limited.prefix}:ratelimit:*`)).length > 0, 'counters live in Redis under the prefix');
  } finally {
    await limited.close();
  }
});
