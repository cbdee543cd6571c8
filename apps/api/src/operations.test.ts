import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '@hifi/jobs';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { generateOpenApiDocument, OPENAPI_PATH } from './openapi-document.ts';
import { jobBody, startApi, type TestApi } from './test-support.ts';

let api: TestApi;
before(async () => {
  api = await startApi();
});
after(async () => {
  await api.close();
});

test('/healthz and /readyz answer without a key when Redis and storage are up', async () => {
  const health = await api.call('/healthz', { auth: null });
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await api.call('/readyz', { auth: null });
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', checks: { redis: 'ok', storage: 'ok' } });
});

test('/readyz is a 503 problem naming what is down', async () => {
  // Port 1 refuses connections; a data dir below a regular file cannot be created.
  const dir = await mkdtemp(join(tmpdir(), 'hifi-readyz-'));
  await writeFile(join(dir, 'file'), 'x');
  const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1', HIFI_DATA_DIR: join(dir, 'file', 'data'), LOG_LEVEL: 'silent', HIFI_API_KEYS: 'acme:acme-secret-key' });
  const app = await buildApp({ config, processMetrics: false });
  try {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const body = res.json() as { code: string; detail: string };
    assert.equal(body.code, 'NOT_READY');
    assert.match(body.detail, /Redis \(redis:\/\/127\.0\.0\.1:1\)/);
    assert.match(body.detail, /storage \(fs:/);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'liveness does not depend on Redis');
    const list = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: 'Bearer acme-secret-key' } });
    assert.equal(list.statusCode, 503, 'a request that needs Redis is a 503, not a 500');
    assert.equal((list.json() as { code: string }).code, 'NOT_READY');
  } finally {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('/metrics exposes request latency by route, jobs by status and queue depth in Prometheus text format', async () => {
  const created: Job[] = [];
  for (let i = 0; i < 3; i++) created.push((await (await api.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job);
  await api.jobs.updateStatus(created[0]!.id, 'analyzing');
  await api.call(`/v1/jobs/${created[1]!.id}`);
  await api.call('/v1/does-not-exist');
  const res = await api.call('/metrics', { auth: null });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^# TYPE hifi_http_request_duration_seconds histogram$/m);
  assert.match(text, /^hifi_http_request_duration_seconds_count\{method="POST",route="\/v1\/jobs",status_code="202"\} 3$/m);
  assert.match(text, /^hifi_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/jobs\/:id",status_code="200"\} 1$/m);
  assert.match(text, /^hifi_http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1$/m);
  // This app's Redis prefix is its own, so the counts are exact.
  assert.match(text, /^hifi_jobs\{status="queued"\} 2$/m);
  assert.match(text, /^hifi_jobs\{status="analyzing"\} 1$/m);
  assert.match(text, /^hifi_jobs\{status="succeeded"\} 0$/m);
  assert.match(text, /^hifi_queue_jobs\{queue="finetune-cpu",state="waiting"\} 3$/m);
  assert.match(text, /^hifi_queue_jobs\{queue="finetune-gpu",state="waiting"\} 0$/m);
});

test('the OpenAPI document is served, lists the routes, and matches the checked-in openapi/openapi.json', async () => {
  const served = (await (await api.call('/openapi.json', { auth: null })).json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
  assert.equal(served.openapi, '3.1.0');
  for (const path of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events/stream', '/v1/jobs/{id}/artifacts/{name}', '/v1/datasets', '/readyz', '/metrics']) {
    assert.ok(path in served.paths, path);
  }
  for (const schema of ['Job', 'JobSpecInput', 'JobEvent', 'Problem', 'Dataset']) assert.ok(schema in served.components.schemas, schema);
  const docs = await api.call('/docs', { auth: null, redirect: 'follow' });
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger/i);

  const generated = await generateOpenApiDocument();
  const checkedIn = await readFile(OPENAPI_PATH, 'utf8');
  assert.ok(
    generated === checkedIn,
    `openapi/openapi.json is out of date with the route schemas: run \`npm run openapi:write -w @hifi/api\` and commit the result`,
  );
  assert.deepEqual(JSON.parse(generated), served, 'the served document is the generated one');
});
