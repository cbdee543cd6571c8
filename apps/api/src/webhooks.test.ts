// Webhooks on the API side: the URL policy at submission (422 WEBHOOK_URL_NOT_ALLOWED naming /webhookUrl for
// other schemes, literal private addresses and localhost names; HIFI_WEBHOOK_ALLOW_PRIVATE=1 lets private ones
// through), and the `job.cancelled` delivery the API queues itself, once, when it cancels a queued job.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { check, openWebhookQueue, WebhookDelivery, type Job, type WebhookQueue } from '@hifi/jobs';
import { jobBody, startApi, type TestApi } from './test-support.ts';

let strict: TestApi;
let relaxed: TestApi;
let deliveries: WebhookQueue;

before(async () => {
  strict = await startApi();
  relaxed = await startApi({ HIFI_WEBHOOK_ALLOW_PRIVATE: '1' });
  deliveries = openWebhookQueue(relaxed.redis, relaxed.prefix);
});
after(async () => {
  await deliveries.close();
  await strict.close();
  await relaxed.close();
});

interface ProblemBody {
  status: number;
  code: string;
  param?: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

async function submit(api: TestApi, webhookUrl: string): Promise<{ status: number; body: unknown; contentType: string }> {
  const res = await api.call('/v1/jobs', { method: 'POST', json: jobBody({ webhookUrl }) });
  return { status: res.status, body: await res.json(), contentType: res.headers.get('content-type') ?? '' };
}

test('by default, webhook URLs with another scheme, a literal private address or a localhost name are a 422 naming /webhookUrl', async () => {
  const refused: [string, RegExp][] = [
    ['http://127.0.0.1:9000/hook', /loopback address/],
    ['http://2130706433/hook', /127\.0\.0\.1 is a loopback address/],
    ['http://[::1]/hook', /loopback address/],
    ['https://10.1.2.3/hook', /private address/],
    ['https://192.168.0.7/hook', /private address/],
    ['http://169.254.169.254/latest/meta-data/', /link-local address/],
    ['http://100.100.0.1/', /CGNAT address/],
    ['http://[fd00::5]/', /unique-local address/],
    ['http://localhost:8080/hook', /loopback name/],
    ['http://hooks.localhost/', /loopback name/],
    ['ftp://hooks.example.com/x', /scheme "ftp" is not allowed/],
    ['javascript:alert(1)', /scheme "javascript" is not allowed/],
  ];
  for (const [url, reason] of refused) {
    const r = await submit(strict, url);
    assert.equal(r.status, 422, url);
    assert.match(r.contentType, /^application\/problem\+json/);
    const p = r.body as ProblemBody;
    assert.equal(p.code, 'WEBHOOK_URL_NOT_ALLOWED', url);
    assert.equal(p.param, 'webhookUrl');
    assert.equal(p.errors?.[0]?.path, '/webhookUrl', url);
    assert.match(p.errors?.[0]?.message ?? '', reason, url);
    assert.ok(p.detail.includes(JSON.stringify(url)), p.detail);
  }
  // Not a URL at all: a validation error on the same field.
  const broken = await submit(strict, 'http://');
  assert.equal(broken.status, 400);
  assert.equal((broken.body as ProblemBody).errors?.[0]?.path, '/webhookUrl');
  // Host names are not resolved at submission (the worker checks their addresses before sending).
  const named = await submit(strict, 'https://hooks.example.com/hifi');
  assert.equal(named.status, 202);
  assert.equal((named.body as Job).spec.webhookUrl, 'https://hooks.example.com/hifi');
  const publicIp = await submit(strict, 'http://8.8.8.8/hook');
  assert.equal(publicIp.status, 202);
});

test('HIFI_WEBHOOK_ALLOW_PRIVATE=1 accepts private addresses and localhost, never other schemes', async () => {
  for (const url of ['http://127.0.0.1:9000/hook', 'http://localhost:8080/hook', 'https://10.1.2.3/hook', 'http://[::1]/']) {
    const r = await submit(relaxed, url);
    assert.equal(r.status, 202, url);
  }
  const ftp = await submit(relaxed, 'ftp://127.0.0.1/x');
  assert.equal(ftp.status, 422);
  assert.equal((ftp.body as ProblemBody).code, 'WEBHOOK_URL_NOT_ALLOWED');
});

async function deliveriesOf(jobId: string) {
  const jobs = await deliveries.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
  return jobs.filter((j) => j.data.jobId === jobId);
}

test('cancelling a queued job queues its job.cancelled webhook once; a repeat cancel or a job without a URL queues none', async () => {
  const webhookUrl = 'http://127.0.0.1:9/hook';
  const job = (await (await relaxed.call('/v1/jobs', { method: 'POST', json: jobBody({ webhookUrl }) })).json()) as Job;
  assert.deepEqual(await deliveriesOf(job.id), [], 'nothing before the end');

  const cancel = await relaxed.call(`/v1/jobs/${job.id}/cancel`, { method: 'POST' });
  assert.equal(cancel.status, 200);
  const cancelled = (await cancel.json()) as Job;
  assert.equal(cancelled.status, 'cancelled');
  const [queued, ...more] = await deliveriesOf(job.id);
  assert.ok(queued, 'a delivery was queued');
  assert.deepEqual(more, []);
  assert.equal(queued.id, `${job.id}.cancelled`);
  const payload = check(WebhookDelivery, queued.data);
  assert.ok(payload.ok);
  assert.equal(payload.value.url, webhookUrl);
  assert.equal(payload.value.event, 'job.cancelled');
  const body = JSON.parse(payload.value.body) as { type: string; job: Job };
  assert.equal(body.type, 'job.cancelled');
  assert.deepEqual(body.job, cancelled, 'the body carries the job as the cancel left it');

  assert.equal((await relaxed.call(`/v1/jobs/${job.id}/cancel`, { method: 'POST' })).status, 200, 'cancelling again is a no-op');
  assert.equal((await deliveriesOf(job.id)).length, 1, 'and queues nothing more');

  const silent = (await (await relaxed.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  assert.equal((await relaxed.call(`/v1/jobs/${silent.id}/cancel`, { method: 'POST' })).status, 200);
  assert.deepEqual(await deliveriesOf(silent.id), []);
});

test('deleting a queued job cancels it first, which queues its webhook; a running job’s cancel leaves the webhook to the worker', async () => {
  const webhookUrl = 'http://127.0.0.1:9/hook';
  const queuedJob = (await (await relaxed.call('/v1/jobs', { method: 'POST', json: jobBody({ webhookUrl }) })).json()) as Job;
  assert.equal((await relaxed.call(`/v1/jobs/${queuedJob.id}`, { method: 'DELETE' })).status, 204);
  const [delivery] = await deliveriesOf(queuedJob.id);
  assert.equal(delivery?.id, `${queuedJob.id}.cancelled`);

  const running = (await (await relaxed.call('/v1/jobs', { method: 'POST', json: jobBody({ webhookUrl }) })).json()) as Job;
  await relaxed.jobs.updateStatus(running.id, 'training');
  assert.equal((await relaxed.call(`/v1/jobs/${running.id}/cancel`, { method: 'POST' })).status, 202);
  assert.deepEqual(await deliveriesOf(running.id), [], 'the worker makes that transition and queues the webhook');
});
