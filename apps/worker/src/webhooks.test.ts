// Webhooks end to end inside the worker: a job reaches a terminal state, a delivery is queued on `webhooks`, the
// receiver (a real HTTP server on 127.0.0.1) fails the first attempt with 500 and gets a retry, signed with
// HMAC-SHA256 of the raw body; a 4xx refusal is not retried.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { JobStore, normaliseJobSpec, openQueue } from '@hifi/jobs';
import { deleteTestKeys, testPrefix } from '@hifi/jobs/testing.ts';
import { FsStore } from '@hifi/storage';
import { loadWorkerConfig } from './config.ts';
import { startWorker } from './worker-app.ts';
import { standInPipeline } from './stand-in-pipeline.ts';
import { deliverWebhook, signWebhookBody } from './webhooks.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(REDIS_URL);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await redis.quit();
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(statuses: number[]): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses[received.length - 1] ?? 200;
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

test('a terminal state is POSTed to the webhookUrl, signed, and retried after a 500', async () => {
  const prefix = testPrefix();
  cleanups.push(() => deleteTestKeys(redis, prefix));
  const dir = await mkdtemp(join(tmpdir(), 'hifi-webhook-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const secret = 'test-webhook-secret';
  const { url, received } = await receiver([500, 200]);
  const config = loadWorkerConfig({
    REDIS_URL, HIFI_REDIS_PREFIX: prefix, HIFI_DATA_DIR: join(dir, 'objects'), HIFI_WORK_DIR: join(dir, 'work'),
    HIFI_WEBHOOK_SECRET: secret, HIFI_WEBHOOK_BACKOFF_MS: '100', LOG_LEVEL: 'silent',
  });
  const worker = await startWorker({ config, logger: pino({ level: 'silent' }), pipeline: standInPipeline({ steps: 2, stepMs: 1 }), store: new FsStore(join(dir, 'objects')) });
  cleanups.push(() => worker.shutdown());
  const jobs = new JobStore({ redis, prefix });
  const { job } = await jobs.create({ tenant: 'acme', spec: normaliseJobSpec({ model: 'tiny-bert', task: 'glue:SST-2', webhookUrl: url }) });
  const queue = openQueue('cpu', redis, prefix);
  cleanups.push(() => queue.close());
  await queue.add('finetune', { jobId: job.id, tenant: 'acme', schemaVersion: 1 }, { jobId: job.id });

  const until = Date.now() + 15_000;
  while (received.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(received.length, 2, 'one failed attempt, one retry');
  const [first, second] = received as [Received, Received];
  assert.equal(second.body, first.body, 'a retry sends the same body');
  assert.equal(second.headers['x-hifi-delivery'], first.headers['x-hifi-delivery']);
  const expected = `sha256=${createHmac('sha256', secret).update(second.body).digest('hex')}`;
  assert.equal(second.headers['x-hifi-signature'], expected);
  assert.equal(second.headers['x-hifi-event'], 'job.succeeded');
  assert.equal(second.headers['content-type'], 'application/json');
  const ts = Number(second.headers['x-hifi-timestamp']);
  assert.ok(Math.abs(ts - Date.now() / 1000) < 60, 'timestamp header is the current unix time');
  const body = JSON.parse(second.body);
  assert.equal(body.type, 'job.succeeded');
  assert.equal(body.job.id, job.id);
  assert.equal(body.job.status, 'succeeded');
});

test('deliverWebhook: 2xx delivers, 5xx/429 throw to retry, other 4xx are final', async () => {
  const { url, received } = await receiver([204, 503, 429, 400]);
  const settings = { secret: 's', attempts: 3, backoffMs: 10, timeoutMs: 2000 };
  const delivery = { deliveryId: 'd1', jobId: 'job_x', url, event: 'job.failed', body: '{"a":1}' };
  assert.equal(await deliverWebhook(delivery, settings), 204);
  await assert.rejects(deliverWebhook(delivery, settings), (err: Error) => err.name === 'Error' && /503/.test(err.message));
  await assert.rejects(deliverWebhook(delivery, settings), (err: Error) => err.name === 'Error' && /429/.test(err.message));
  await assert.rejects(deliverWebhook(delivery, settings), (err: Error) => err.name === 'UnrecoverableError' && /400/.test(err.message));
  assert.equal(received[0]?.headers['x-hifi-signature'], signWebhookBody('s', '{"a":1}'));
  // Unreachable receiver: a retryable error.
  await assert.rejects(deliverWebhook({ ...delivery, url: 'http://127.0.0.1:9/' }, settings), /webhook http:\/\/127\.0\.0\.1:9\//);
});
