// End to end, webhooks: the real API and a real worker process (apps/worker/src/main.ts) on one Redis prefix, a
// real HTTP receiver on 127.0.0.1 (so both sides run with HIFI_WEBHOOK_ALLOW_PRIVATE=1):
//   - a job cancelled while queued (a transition the API makes, not the worker) reaches the receiver as one
//     signed `job.cancelled` webhook, delivered by the worker;
//   - with the default policy the API refuses a loopback webhook URL with a 422 naming /webhookUrl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job } from '@hifi/jobs';
import { E2E, tinyJob } from './helpers/e2e.ts';

const SECRET = 'e2e-webhook-secret';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

let e2e: E2E;
let server: Server;
const received: Received[] = [];
let hookUrl = '';

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      res.statusCode = 204;
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/hifi`;
  e2e = await E2E.start({ env: { HIFI_WEBHOOK_ALLOW_PRIVATE: '1', HIFI_WEBHOOK_SECRET: SECRET, HIFI_WEBHOOK_BACKOFF_MS: '100' } });
});
after(async () => {
  await e2e.close();
  await new Promise((r) => server.close(r));
});

test('a job cancelled while queued sends one signed job.cancelled webhook, delivered by the worker process', async () => {
  // No worker yet: the job stays queued until the API cancels it.
  const job = await e2e.submit(tinyJob({ webhookUrl: hookUrl }));
  assert.equal(job.status, 'queued');
  const cancel = await e2e.request<Job>('POST', `/v1/jobs/${job.id}/cancel`);
  assert.equal(cancel.status, 200);
  assert.equal(cancel.body.status, 'cancelled');

  const worker = await e2e.startWorkerProcess();
  const until = Date.now() + 20_000;
  while (received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(received.length, 1, `the receiver got the webhook${received.length === 0 ? `\n${worker.output()}` : ''}`);
  const hook = received[0]!;
  assert.equal(hook.method, 'POST');
  assert.equal(hook.url, '/hooks/hifi');
  assert.equal(hook.headers['content-type'], 'application/json');
  assert.equal(hook.headers['x-hifi-event'], 'job.cancelled');
  assert.equal(hook.headers['x-hifi-signature'], `sha256=${createHmac('sha256', SECRET).update(hook.body).digest('hex')}`);
  const timestamp = Number(hook.headers['x-hifi-timestamp']);
  assert.ok(Math.abs(timestamp - hook.at / 1000) < 5, `X-Hifi-Timestamp ${timestamp} is the time of sending`);
  const body = JSON.parse(hook.body) as { id: string; type: string; createdAt: string; job: Job };
  assert.equal(body.type, 'job.cancelled');
  assert.equal(body.id, hook.headers['x-hifi-delivery']);
  assert.equal(body.job.id, job.id);
  assert.equal(body.job.status, 'cancelled');
  assert.equal(body.job.startedAt, null, 'it never ran');
  assert.deepEqual(body.job, cancel.body, 'the job as the cancel left it');

  // Exactly once: nothing more arrives, the job is untouched, and its events record no delivery problem.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(received.length, 1);
  const after = await e2e.getJob(job.id);
  assert.equal(after.status, 'cancelled');
  const events = (await e2e.request<{ items: { type: string; data: { level?: string } }[] }>('GET', `/v1/jobs/${job.id}/events`)).body.items;
  assert.equal(events.filter((e) => e.type === 'log' && e.data.level === 'warn').length, 0);
});

test('with the default policy the API refuses a loopback webhook URL (422, /webhookUrl)', async () => {
  const strict = await E2E.start();
  try {
    const r = await strict.request<{ code: string; errors: { path: string }[] }>('POST', '/v1/jobs', tinyJob({ webhookUrl: hookUrl }));
    assert.equal(r.status, 422);
    assert.equal(r.body.code, 'WEBHOOK_URL_NOT_ALLOWED');
    assert.equal(r.body.errors[0]?.path, '/webhookUrl');
  } finally {
    await strict.close();
  }
});
