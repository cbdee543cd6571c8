// End to end, a worker killed with SIGKILL mid-training: BullMQ's stalled-job check (short lock and interval here,
// set through the worker's env) puts the job back in the queue, a new worker process takes it, finds the newest
// step checkpoint in object storage and resumes from it; the job records resumedFromStep and an event says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '@hifi/jobs';
import { E2E, tinyJob } from './helpers/e2e.ts';

let e2e: E2E;
before(async () => {
  e2e = await E2E.start();
});
after(() => e2e.close());

const WORKER_ENV = { HIFI_LOCK_DURATION_MS: '3000', HIFI_STALLED_INTERVAL_MS: '500', HIFI_CHECKPOINT_EVERY_STEPS: '4' };

test('SIGKILL of the worker mid-training: a new worker resumes the job from its last checkpoint', async () => {
  const first = await e2e.startWorkerProcess(WORKER_ENV);
  const job = await e2e.submit(tinyJob({ hyperparameters: { maxTrainExamples: 640, epochs: 1, maxLength: 32, batchSize: 8, analysisSamples: 32 } }));
  const hasCheckpoint = (j: Job) => j.artifacts.some((a) => a.kind === 'checkpoint' && (a.step ?? 0) >= 4);
  const before = await e2e.waitForJob(job.id, (j) => j.status === 'training' && (j.progress?.step ?? 0) >= 10 && hasCheckpoint(j), 60_000, 'a checkpoint during training');
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const killedAt = before.progress!.step;
  assert.ok(killedAt < before.progress!.totalSteps!, 'killed before the end of training');

  const second = await e2e.startWorkerProcess(WORKER_ENV);
  const done = await e2e.waitForEnd(job.id, 90_000);
  assert.equal(done.status, 'succeeded', `${JSON.stringify(done.error)}\n${second.output()}`);
  assert.ok(done.resumedFromStep !== null && done.resumedFromStep > 0, `resumedFromStep ${done.resumedFromStep}`);
  assert.ok(done.resumedFromStep! % 4 === 0, 'resumed from a step checkpoint');
  const events = (await e2e.request<{ items: { type: string; data: Record<string, unknown> }[] }>('GET', `/v1/jobs/${job.id}/events?limit=1000`)).body.items;
  assert.ok(
    events.some((e) => e.type === 'log' && String(e.data.message).includes(`resumed from checkpoint step-${String(done.resumedFromStep).padStart(8, '0')} at step ${done.resumedFromStep}`)),
    'an event says the job resumed',
  );
  const statuses = events.filter((e) => e.type === 'status_changed').map((e) => e.data.to);
  assert.deepEqual(statuses, ['queued', 'analyzing', 'training', 'queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded']);
  assert.equal(done.progress?.step, done.progress?.totalSteps);
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});

test('SIGTERM mid-training: the worker checkpoints, releases the job without using an attempt, exits 0; the next one resumes', async () => {
  const first = await e2e.startWorkerProcess(WORKER_ENV);
  const job = await e2e.submit(tinyJob({ hyperparameters: { maxTrainExamples: 640, epochs: 1, maxLength: 32, batchSize: 8, analysisSamples: 32 } }));
  await e2e.waitForJob(job.id, (j) => j.status === 'training' && (j.progress?.step ?? 0) >= 6, 60_000, 'training');
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.output());
  const released = await e2e.getJob(job.id);
  assert.equal(released.status, 'queued');
  const saved = Math.max(...released.artifacts.filter((a) => a.kind === 'checkpoint' && a.name.startsWith('checkpoint-step-')).map((a) => a.step ?? 0));
  assert.ok(saved >= 6, `checkpoint written on the way out at step ${saved}`);
  const { openQueue } = await import('@hifi/jobs');
  const queue = openQueue('cpu', e2e.redis, e2e.prefix);
  try {
    assert.equal(await queue.getJobState(job.id), 'waiting');
    assert.equal((await queue.getJob(job.id))?.attemptsMade, 0);
  } finally {
    await queue.close();
  }

  const second = await e2e.startWorkerProcess(WORKER_ENV);
  const done = await e2e.waitForEnd(job.id, 90_000);
  assert.equal(done.status, 'succeeded', `${JSON.stringify(done.error)}\n${second.output()}`);
  assert.equal(done.resumedFromStep, saved);
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});
