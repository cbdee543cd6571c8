// The shared webhook contract: what a terminal job puts on the `webhooks` queue (once per job and status), the
// body, and the headers of an attempt (HMAC-SHA256 signature over the raw body, timestamp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { JobStore } from './job-store.ts';
import { normaliseJobSpec } from './job-spec.ts';
import { check } from './validate.ts';
import { useTestRedis } from './testing.ts';
import { enqueueWebhook, openWebhookQueue, WebhookDelivery, webhookEventOf, webhookRequestHeaders, WEBHOOK_QUEUE_NAME } from './webhooks.ts';

const { prefix, redis } = useTestRedis();

test('webhookEventOf: only terminal states have an event', () => {
  assert.equal(webhookEventOf('succeeded'), 'job.succeeded');
  assert.equal(webhookEventOf('failed'), 'job.failed');
  assert.equal(webhookEventOf('cancelled'), 'job.cancelled');
  for (const s of ['queued', 'analyzing', 'training', 'evaluating', 'exporting'] as const) assert.equal(webhookEventOf(s), null, s);
});

test('enqueueWebhook queues one delivery per job and terminal status; nothing without a URL or before the end', async () => {
  const store = new JobStore({ redis, prefix });
  const queue = openWebhookQueue(redis, prefix);
  try {
    const url = 'https://hooks.example.com/hifi';
    const { job } = await store.create({ tenant: 'acme', spec: normaliseJobSpec({ model: 'hf:org/tiny', task: 'glue:SST-2', webhookUrl: url }) });
    assert.equal(await enqueueWebhook(queue, job), false, 'a queued job sends nothing');
    await store.requestCancel(job.id);
    const cancelled = (await store.get(job.id))!;
    assert.equal(await enqueueWebhook(queue, cancelled), true);
    assert.equal(await enqueueWebhook(queue, cancelled), true);
    assert.equal(await queue.getWaitingCount(), 1, 'the second add finds the BullMQ job id taken');

    const bull = await queue.getJob(`${job.id}.cancelled`);
    assert.ok(bull, 'BullMQ job id <jobId>.<status>');
    assert.equal(bull.queueName, WEBHOOK_QUEUE_NAME);
    assert.equal(bull.name, 'deliver');
    const payload = check(WebhookDelivery, bull.data);
    assert.ok(payload.ok, JSON.stringify(!payload.ok && payload.errors));
    const delivery = payload.value;
    assert.equal(delivery.url, url);
    assert.equal(delivery.event, 'job.cancelled');
    assert.equal(delivery.jobId, job.id);
    const body = JSON.parse(delivery.body) as { id: string; type: string; createdAt: string; job: { id: string; status: string; finishedAt: string | null } };
    assert.equal(body.id, delivery.deliveryId);
    assert.equal(body.type, 'job.cancelled');
    assert.ok(Math.abs(Date.parse(body.createdAt) - Date.now()) < 60_000);
    assert.deepEqual(body.job, JSON.parse(JSON.stringify(cancelled)), 'the job as it was right after the transition');
    assert.ok(bull.opts.attempts! > 1, 'retries are possible; the consumer decides how many');
    assert.equal(bull.opts.backoff && typeof bull.opts.backoff === 'object' ? bull.opts.backoff.type : null, 'webhook');

    const { job: silent } = await store.create({ tenant: 'acme', spec: normaliseJobSpec({ model: 'hf:org/tiny', task: 'glue:SST-2' }) });
    await store.requestCancel(silent.id);
    assert.equal(await enqueueWebhook(queue, (await store.get(silent.id))!), false, 'no webhookUrl, nothing to send');
    assert.equal(await queue.getWaitingCount(), 1);
  } finally {
    await queue.close();
  }
});

test('webhookRequestHeaders: event, delivery id, unix timestamp and sha256 HMAC of the raw body; no signature without a secret', () => {
  const delivery = { deliveryId: 'd-1', jobId: 'job_x', url: 'https://h.example.com/', event: 'job.failed' as const, body: '{"id":"d-1","type":"job.failed"}' };
  const now = new Date('2030-01-02T03:04:05.678Z');
  const headers = webhookRequestHeaders(delivery, 'the-secret', now);
  assert.equal(headers['content-type'], 'application/json');
  assert.equal(headers['x-hifi-event'], 'job.failed');
  assert.equal(headers['x-hifi-delivery'], 'd-1');
  assert.equal(headers['x-hifi-timestamp'], String(Math.floor(now.getTime() / 1000)));
  assert.equal(headers['x-hifi-signature'], `sha256=${createHmac('sha256', 'the-secret').update(delivery.body).digest('hex')}`);
  assert.equal('x-hifi-signature' in webhookRequestHeaders(delivery, null, now), false);
});
