import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readObject } from '@hifi/storage';
import type { Dataset, Job } from '@hifi/jobs';
import { jobBody, startApi, type TestApi } from './test-support.ts';

let api: TestApi;
before(async () => {
  api = await startApi({ HIFI_MAX_UPLOAD_BYTES: '4096' });
});
after(async () => {
  await api.close();
});

function upload(text: string, filename: string, opts: { auth?: 'acme' | 'beta'; query?: string } = {}): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([text]), filename);
  return api.call(`/v1/datasets${opts.query ?? ''}`, { method: 'POST', body: form, auth: opts.auth ?? 'acme' });
}

function jsonl(rows: unknown[]): string {
  return rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}

const goodRows = Array.from({ length: 30 }, (_, i) => ({ text: `example number ${i}`, label: i % 2 === 0 ? 'pos' : 'neg' }));

test('a valid JSONL upload is stored and recorded; a skipped row is listed with its line', async () => {
  const text = jsonl([...goodRows.slice(0, 10), '{"label": "pos"}', ...goodRows.slice(10)]);
  const res = await upload(text, 'train.jsonl');
  assert.equal(res.status, 201);
  const ds = (await res.json()) as Dataset;
  assert.equal(res.headers.get('location'), `/v1/datasets/${ds.id}`);
  assert.equal(ds.format, 'jsonl');
  assert.equal(ds.rows, 30);
  assert.deepEqual(ds.labels, ['neg', 'pos']);
  assert.equal(ds.task, 'classification');
  assert.equal(ds.rejectedCount, 1);
  assert.equal(ds.rejected[0]!.line, 11);
  assert.equal(ds.sha256, createHash('sha256').update(text).digest('hex'));
  const stored = await readObject(api.objects, ds.storageKey);
  assert.equal(Buffer.from(stored).toString('utf8'), text);

  const got = await api.call(`/v1/datasets/${ds.id}`);
  assert.deepEqual(await got.json(), ds);
  assert.equal((await api.call(`/v1/datasets/${ds.id}`, { auth: 'beta' })).status, 404, 'another tenant');

  const job = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ task: { datasetId: ds.id } }) });
  assert.equal(job.status, 202);
  assert.deepEqual(((await job.json()) as Job).spec.task, { datasetId: ds.id });
  const foreign = await api.call('/v1/jobs', { method: 'POST', auth: 'beta', json: jobBody({ task: { datasetId: ds.id } }) });
  assert.equal(foreign.status, 422);
  assert.equal(((await foreign.json()) as { code: string }).code, 'INVALID_DATASET');
});

test('CSV with a format query; too many bad rows → 422 listing the lines', async () => {
  const csv = 'text,label\n' + goodRows.slice(0, 12).map((r) => `"${r.text}",${r.label}`).join('\n') + '\n';
  const ok = await upload(csv, 'data.txt', { query: '?format=csv' });
  assert.equal(ok.status, 201);
  assert.equal(((await ok.json()) as Dataset).rows, 12);

  const bad = jsonl([goodRows[0], '{not json', goodRows[1], { text: 'no label' }, { text: '', label: 'pos' }, goodRows[2]]);
  const res = await upload(bad, 'bad.jsonl');
  assert.equal(res.status, 422);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = (await res.json()) as { code: string; errors: { line: number; message: string; path: string }[] };
  assert.equal(problem.code, 'INVALID_DATASET');
  assert.deepEqual(problem.errors.map((e) => e.line), [2, 4, 5]);
  assert.ok(problem.errors.every((e) => e.path === '/file' && e.message.length > 0));
});

test('oversize → 413, not multipart or unknown format → 415; the server keeps serving', async () => {
  const big = jsonl(Array.from({ length: 200 }, (_, i) => ({ text: `a fairly long example sentence number ${i}`, label: i % 2 })));
  assert.ok(big.length > 4096);
  const res = await upload(big, 'big.jsonl');
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { code: string }).code, 'PAYLOAD_TOO_LARGE');

  const notMultipart = await api.call('/v1/datasets', { method: 'POST', json: { text: 'x' } });
  assert.equal(notMultipart.status, 415);
  const unknownExt = await upload(jsonl(goodRows), 'data.parquet');
  assert.equal(unknownExt.status, 415);
  assert.equal(((await unknownExt.json()) as { code: string }).code, 'UNSUPPORTED_MEDIA');

  assert.equal((await upload(jsonl(goodRows), 'again.jsonl')).status, 201, 'still serving');
});
