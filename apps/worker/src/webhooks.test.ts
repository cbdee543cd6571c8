// Webhook delivery in the worker, against real HTTP receivers on 127.0.0.1 and a real Redis/BullMQ:
//   - a job reaches a terminal state, its delivery is queued and POSTed, signed with HMAC-SHA256 of the raw body,
//     and retried after a 500 (HIFI_WEBHOOK_ALLOW_PRIVATE=1, since the receiver is on loopback);
//   - status classification of one attempt (2xx, retryable, final);
//   - the default policy: a host name whose DNS answer is a loopback address, and a literal loopback URL, are
//     refused at delivery without a request, not retried, and recorded on the job; the allowed mode connects to
//     the address the (stand-in) DNS answered, which shows that the checked lookup is the one connected with;
//   - a delivery that keeps failing gives up after HIFI_WEBHOOK_ATTEMPTS and is recorded on the job.
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
import { enqueueWebhook, JobStore, normaliseJobSpec, openQueue, openWebhookQueue, type Job, type ResolveHost } from '@hifi/jobs';
import { deleteTestKeys, testPrefix } from '@hifi/jobs/testing.ts';
import { FsStore } from '@hifi/storage';
import { loadWorkerConfig } from './config.ts';
import { startWorker } from './worker-app.ts';
import { standInPipeline } from './stand-in-pipeline.ts';
import { deliverWebhook, startWebhookWorker, webhookRetryDelay, type WebhookSettings } from './webhooks.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(REDIS_URL);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await redis.quit();
});
const silent = pino({ level: 'silent' });

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(statuses: number[] = []): Promise<{ port: number; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses[received.length - 1] ?? statuses.at(-1) ?? 200;
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}/hook`, received };
}

async function until(pred: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
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
    HIFI_WEBHOOK_SECRET: secret, HIFI_WEBHOOK_BACKOFF_MS: '100', HIFI_WEBHOOK_ALLOW_PRIVATE: '1', LOG_LEVEL: 'silent',
  });
  const worker = await startWorker({ config, logger: silent, pipeline: standInPipeline({ steps: 2, stepMs: 1 }), store: new FsStore(join(dir, 'objects')) });
  cleanups.push(() => worker.shutdown());
  const jobs = new JobStore({ redis, prefix });
  const { job } = await jobs.create({ tenant: 'acme', spec: normaliseJobSpec({ model: 'tiny-bert', task: 'glue:SST-2', webhookUrl: url }) });
  const queue = openQueue('cpu', redis, prefix);
  cleanups.push(() => queue.close());
  await queue.add('finetune', { jobId: job.id, tenant: 'acme', schemaVersion: 1 }, { jobId: job.id });

  await until(() => received.length >= 2, 15_000);
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

const delivery = (url: string) => ({ deliveryId: 'd1', jobId: 'job_x', url, event: 'job.failed' as const, body: '{"a":1}' });

test('deliverWebhook: 2xx delivers, 5xx/429 throw to retry, other 4xx are final', async () => {
  const { url, received } = await receiver([204, 503, 429, 400]);
  const settings: WebhookSettings = { secret: 's', attempts: 3, backoffMs: 10, timeoutMs: 2000, allowPrivate: true };
  assert.equal(await deliverWebhook(delivery(url), settings), 204);
  await assert.rejects(deliverWebhook(delivery(url), settings), (err: Error) => err.name === 'Error' && /503/.test(err.message));
  await assert.rejects(deliverWebhook(delivery(url), settings), (err: Error) => err.name === 'Error' && /429/.test(err.message));
  await assert.rejects(deliverWebhook(delivery(url), settings), (err: Error) => err.name === 'UnrecoverableError' && /400/.test(err.message));
  assert.equal(received[0]?.headers['x-hifi-signature'], `sha256=${createHmac('sha256', 's').update('{"a":1}').digest('hex')}`);
  // Unreachable receiver: a retryable error.
  await assert.rejects(deliverWebhook(delivery('http://127.0.0.1:9/'), settings), (err: Error) => err.name === 'Error' && /webhook http:\/\/127\.0\.0\.1:9\//.test(err.message));
  assert.deepEqual([1, 2, 3, 4].map((n) => webhookRetryDelay(n, 100)), [100, 200, 400, 800]);
});

/** A consumer of the webhooks queue with its own prefix and a stand-in DNS answer for `hooks.test`. */
async function consumer(settings: Omit<WebhookSettings, 'resolveHost'>, dnsAnswer: string) {
  const prefix = testPrefix();
  cleanups.push(() => deleteTestKeys(redis, prefix));
  const jobs = new JobStore({ redis, prefix });
  const queue = openWebhookQueue(redis, prefix);
  cleanups.push(() => queue.close());
  const lookups: string[] = [];
  const resolveHost: ResolveHost = async (hostname) => {
    lookups.push(hostname);
    if (hostname !== 'hooks.test') throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address: dnsAnswer, family: 4 }];
  };
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = startWebhookWorker({ connection, prefix, settings: { ...settings, resolveHost }, jobs, logger: silent });
  cleanups.push(async () => {
    await worker.close();
    await connection.quit();
  });
  /** A cancelled job with this webhookUrl, its delivery queued; resolves with the job. */
  const cancelledJob = async (webhookUrl: string): Promise<Job> => {
    const { job } = await jobs.create({ tenant: 'acme', spec: normaliseJobSpec({ model: 'tiny-bert', task: 'glue:SST-2', webhookUrl }) });
    const r = await jobs.requestCancel(job.id);
    assert.equal(r?.outcome, 'cancelled');
    assert.equal(await enqueueWebhook(queue, r.job), true);
    return r.job;
  };
  const settled = async (job: Job) => {
    const id = `${job.id}.cancelled`;
    await until(async () => ['completed', 'failed'].includes(await queue.getJobState(id)));
    return (await queue.getJob(id))!;
  };
  const warnings = async (job: Job) =>
    (await jobs.readEvents(job.id, { limit: 1000 })).flatMap((e) => (e.type === 'log' && e.data.level === 'warn' ? [e.data.message] : []));
  return { jobs, queue, lookups, cancelledJob, settled, warnings };
}

test('default policy: a host resolving to loopback and a literal loopback URL are refused at delivery, not retried, and recorded on the job', async () => {
  const { port, received } = await receiver();
  const c = await consumer({ secret: 's', attempts: 5, backoffMs: 10, timeoutMs: 2000, allowPrivate: false }, '127.0.0.1');

  const byName = await c.cancelledJob(`http://hooks.test:${port}/hook`);
  const bullByName = await c.settled(byName);
  assert.equal(await bullByName.getState(), 'failed');
  assert.equal(bullByName.attemptsMade, 1, 'refused once, not retried');
  assert.match(bullByName.failedReason, /hooks\.test resolves to 127\.0\.0\.1, a loopback address/);
  assert.deepEqual(c.lookups, ['hooks.test'], 'the refusal came from the DNS answer');
  const [warning] = await c.warnings(byName);
  assert.match(warning ?? '', /^job\.cancelled webhook not delivered: .*hooks\.test resolves to 127\.0\.0\.1, a loopback address/);

  const literal = await c.cancelledJob(`http://127.0.0.1:${port}/hook`);
  const bullLiteral = await c.settled(literal);
  assert.equal(await bullLiteral.getState(), 'failed');
  assert.equal(bullLiteral.attemptsMade, 1);
  assert.match((await c.warnings(literal))[0] ?? '', /127\.0\.0\.1 is a loopback address/);

  assert.equal(received.length, 0, 'the receiver never got a request');
  assert.equal((await c.jobs.get(byName.id))?.status, 'cancelled', 'the job itself is unchanged');
});

test('allowed mode: the delivery connects to the address the DNS answered (the checked lookup is the one used)', async () => {
  const { port, received } = await receiver();
  const c = await consumer({ secret: 's', attempts: 5, backoffMs: 10, timeoutMs: 2000, allowPrivate: true }, '127.0.0.1');
  const job = await c.cancelledJob(`http://hooks.test:${port}/hook`);
  const bull = await c.settled(job);
  assert.equal(await bull.getState(), 'completed');
  assert.equal(received.length, 1);
  assert.equal(received[0]!.headers.host, `hooks.test:${port}`);
  assert.equal(JSON.parse(received[0]!.body).job.id, job.id);
  assert.deepEqual(c.lookups, ['hooks.test']);
  assert.deepEqual(await c.warnings(job), []);
});

test('a delivery that keeps failing gives up after HIFI_WEBHOOK_ATTEMPTS and is recorded on the job', async () => {
  const { url, received } = await receiver([500]);
  const c = await consumer({ secret: null, attempts: 3, backoffMs: 20, timeoutMs: 2000, allowPrivate: true }, '127.0.0.1');
  const job = await c.cancelledJob(url);
  const bull = await c.settled(job);
  assert.equal(await bull.getState(), 'failed');
  assert.equal(bull.attemptsMade, 3);
  assert.equal(received.length, 3);
  assert.equal(received[0]!.headers['x-hifi-signature'], undefined, 'no secret, no signature');
  assert.match((await c.warnings(job))[0] ?? '', /answered 500 \(gave up after 3 attempts\)/);
});
