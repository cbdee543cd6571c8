import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { S3Store } from '@hifi/storage';
import { startTestS3Server } from '@hifi/storage/s3-test-server.ts';
import { metricsFromEvents, storageKeys, type Artifact, type Job, type JobMetrics } from '@hifi/jobs';
import { jobBody, startApi, type TestApi } from './test-support.ts';

let api: TestApi;
let job: Job;
const heads = Buffer.from(JSON.stringify({ layers: 4, heads: 8, selected: [[0, 1], [3, 7]], scores: Array.from({ length: 32 }, (_, i) => i / 32) }));
const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');

async function publish(api: TestApi, jobId: string, name: string, body: Buffer, contentType: string, kind: Artifact['kind'], step?: number): Promise<void> {
  // What the worker does: store the bytes, then record the artifact on the job.
  await api.objects.put(storageKeys.artifact(jobId, name), body, { contentType });
  await api.jobs.addArtifact(jobId, { name, kind, size: body.length, contentType, createdAt: new Date().toISOString(), ...(step === undefined ? {} : { step }) });
}

before(async () => {
  api = await startApi();
  job = (await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  await api.jobs.updateStatus(job.id, 'analyzing');
  await publish(api, job.id, 'heads.json', heads, 'application/json', 'report');
  await publish(api, job.id, 'heads.svg', svg, 'image/svg+xml', 'figure');
  await api.jobs.updateStatus(job.id, 'training');
  await publish(api, job.id, 'checkpoint-000010.safetensors', Buffer.alloc(64, 7), 'application/octet-stream', 'checkpoint', 10);
  await api.jobs.appendEvent(job.id, { type: 'metrics', data: { split: 'train', step: 10, epoch: 0.5, values: { loss: 0.9 } } });
  await api.jobs.appendEvent(job.id, { type: 'metrics', data: { split: 'eval', step: 10, epoch: 0.5, values: { accuracy: 0.7 } } });
  await api.jobs.appendEvent(job.id, { type: 'metrics', data: { split: 'train', step: 20, epoch: 1, values: { loss: 0.5 } } });
});
after(async () => {
  await api.close();
});

/** A raw request, so that the path reaches the server exactly as written (fetch would normalise `..`). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET', headers: { authorization: 'Bearer acme-secret-key', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('artifacts list, full download, and the well-known routes', async () => {
  const list = (await (await api.call(`/v1/jobs/${job.id}/artifacts`)).json()) as { items: Artifact[] };
  assert.deepEqual(list.items.map((a) => a.name).sort(), ['checkpoint-000010.safetensors', 'heads.json', 'heads.svg']);

  const full = await api.call(`/v1/jobs/${job.id}/artifacts/heads.json`);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  assert.equal(full.headers.get('content-length'), String(heads.length));
  assert.deepEqual(Buffer.from(await full.arrayBuffer()), heads);

  const report = await api.call(`/v1/jobs/${job.id}/heads`);
  assert.match(report.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(await report.json(), JSON.parse(heads.toString()));

  const figure = await api.call(`/v1/jobs/${job.id}/heads.svg`);
  assert.match(figure.headers.get('content-type') ?? '', /^image\/svg\+xml/);
  assert.equal(await figure.text(), svg.toString());

  const checkpoints = (await (await api.call(`/v1/jobs/${job.id}/checkpoints`)).json()) as { items: Artifact[] };
  assert.deepEqual(checkpoints.items.map((a) => [a.name, a.step]), [['checkpoint-000010.safetensors', 10]]);

  const missing = await api.call(`/v1/jobs/${job.id}/artifacts/model.safetensors`);
  assert.equal(missing.status, 404);
});

test('Range: 206 with Content-Range for first-last, open-ended and suffix ranges; 416 when unsatisfiable', async () => {
  const path = `/v1/jobs/${job.id}/artifacts/heads.json`;
  const cases: [string, number, number][] = [
    ['bytes=0-9', 0, 9],
    ['bytes=10-', 10, heads.length - 1],
    ['bytes=-5', heads.length - 5, heads.length - 1],
    ['bytes=5-100000', 5, heads.length - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await api.call(path, { headers: { range } });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${heads.length}`, range);
    assert.equal(res.headers.get('content-length'), String(end - start + 1), range);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), heads.subarray(start, end + 1), range);
  }
  const beyond = await api.call(path, { headers: { range: `bytes=${heads.length}-` } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), `bytes */${heads.length}`);
  assert.equal(((await beyond.json()) as { code: string }).code, 'RANGE_NOT_SATISFIABLE');
  const multi = await api.call(path, { headers: { range: 'bytes=0-1,4-5' } });
  assert.equal(multi.status, 200, 'several ranges are answered with the whole file');
  await multi.body?.cancel();
});

test('artifact names with .., slashes or encoded traversal are rejected with a 400 problem', async () => {
  const base = `/v1/jobs/${job.id}/artifacts/`;
  for (const name of ['..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '%2E%2E%2Fheads.json', '%252e%252e%252f', 'a%5C..%5Cb', '.hidden', 'heads..json']) {
    const res = await rawGet(base + name);
    assert.equal(res.status, 400, name);
    const body = JSON.parse(res.body) as { code: string };
    assert.equal(body.code, 'INVALID_ARTIFACT_NAME', name);
  }
  // Raw ../ segments never reach a file route.
  const raw = await rawGet(`${base}../../../etc/passwd`);
  assert.notEqual(raw.status, 200);
  assert.ok(!raw.body.includes('root:'));
  assert.equal((await rawGet(`${base}heads.json`)).status, 200, 'still serving');
});

test('metrics: built from metrics events; then the stored final view with the trainer report embedded', async () => {
  const live = (await (await api.call(`/v1/jobs/${job.id}/metrics`)).json()) as JobMetrics;
  assert.equal(live.final, false);
  assert.equal(live.report, null);
  assert.deepEqual(live.points.map((p) => [p.split, p.step]), [['train', 10], ['eval', 10], ['train', 20]]);
  assert.deepEqual(live.latest, { train: { loss: 0.5 }, eval: { accuracy: 0.7 } });
  // What the worker stores at the end: the same view with final: true, and the trainer's summary.
  const finalView = { ...metricsFromEvents(job.id, await api.jobs.readEvents(job.id, { limit: 1000 })), final: true };
  finalView.points = finalView.points.slice(1);
  await publish(api, job.id, 'metrics.json', Buffer.from(JSON.stringify(finalView)), 'application/json', 'metrics');
  const report = { schemaVersion: 1, kind: 'hifi-training-metrics', metrics: { main: 0.71 }, steps: 20 };
  await publish(api, job.id, 'training-metrics.json', Buffer.from(JSON.stringify(report)), 'application/json', 'metrics');
  const final = (await (await api.call(`/v1/jobs/${job.id}/metrics`)).json()) as JobMetrics;
  assert.equal(final.final, true);
  assert.equal(final.points.length, 2, 'served from metrics.json, not rebuilt from events');
  assert.deepEqual(final.report, report);
});

test('with S3 storage, ?redirect=1 answers 302 to a presigned URL that serves the file', async () => {
  const s3 = await startTestS3Server();
  const store = new S3Store({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
  const s3api = await startApi({}, { objects: store });
  try {
    const j = (await (await s3api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
    await publish(s3api, j.id, 'heads.json', heads, 'application/json', 'report');
    const res = await s3api.call(`/v1/jobs/${j.id}/artifacts/heads.json?redirect=1`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = res.headers.get('location')!;
    assert.ok(location.startsWith(s3.endpoint), location);
    const direct = await fetch(location);
    assert.equal(direct.status, 200);
    assert.deepEqual(Buffer.from(await direct.arrayBuffer()), heads);
    const streamed = await s3api.call(`/v1/jobs/${j.id}/artifacts/heads.json`, { headers: { range: 'bytes=2-5' } });
    assert.equal(streamed.status, 206);
    assert.deepEqual(Buffer.from(await streamed.arrayBuffer()), heads.subarray(2, 6));
  } finally {
    await s3api.close();
    await store.close();
    await s3.close();
  }
});
