// End to end, cancel: a job cancelled while queued never runs; a running job's cancel reaches the worker that
// runs it (Redis pub/sub → AbortController), the trainer stops at its next batch and the job ends `cancelled`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '@hifi/jobs';
import { E2E, tinyJob } from './helpers/e2e.ts';

let e2e: E2E;
before(async () => {
  e2e = await E2E.start();
});
after(() => e2e.close());

const longJob = () => tinyJob({ hyperparameters: { maxTrainExamples: 4000, epochs: 1, maxLength: 32, batchSize: 8, analysisSamples: 32 } });

test('a job cancelled while queued is cancelled at once and never runs', async () => {
  const job = await e2e.submit(tinyJob());
  const r = await e2e.request<Job>('POST', `/v1/jobs/${job.id}/cancel`);
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'cancelled');
  // A worker that starts afterwards does not touch it.
  await e2e.startWorker();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await e2e.getJob(job.id);
  assert.equal(after.status, 'cancelled');
  assert.equal(after.startedAt, null);
  const events = (await e2e.request<{ items: { type: string; data: { to?: string } }[] }>('GET', `/v1/jobs/${job.id}/events`)).body.items;
  assert.deepEqual(events.filter((e) => e.type === 'status_changed').map((e) => e.data.to), ['queued', 'cancelled']);
});

test('cancelling a running job stops the trainer at its next batch', async () => {
  const job = await e2e.submit(longJob());
  const running = await e2e.waitForJob(job.id, (j) => j.status === 'training' && (j.progress?.step ?? 0) >= 2, 60_000, 'training to start');
  const r = await e2e.request<Job>('POST', `/v1/jobs/${job.id}/cancel`);
  assert.equal(r.status, 202);
  assert.equal(r.body.cancelRequested, true);
  const asked = Date.now();
  const done = await e2e.waitForEnd(job.id, 30_000);
  assert.equal(done.status, 'cancelled');
  assert.ok(Date.now() - asked < 5000, `stopped ${Date.now() - asked} ms after the request`);
  assert.ok(done.progress!.step < done.progress!.totalSteps!, `stopped at step ${done.progress!.step} of ${done.progress!.totalSteps}`);
  assert.ok(done.progress!.step >= running.progress!.step);
  assert.equal(done.error, null);
  // The server keeps serving.
  assert.equal((await e2e.request('GET', '/healthz')).status, 200);
});
