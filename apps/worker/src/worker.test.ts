// The worker around a stand-in pipeline, on a real Redis (prefix hifi-test-<uuid>, only its keys removed) and a
// FsStore in a temp dir: the status machine, artifacts, lock renewal during CPU-bound work, cancel (queued and
// running), SIGTERM-style shutdown with release and resume, bad input without retries, transient retries.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { JobStore, normaliseJobSpec, openQueue, storageKeys, type Job, type JobStatus } from '@hifi/jobs';
import { deleteTestKeys, testPrefix } from '@hifi/jobs/testing.ts';
import { FsStore, readObject } from '@hifi/storage';
import { loadWorkerConfig, type WorkerConfig } from './config.ts';
import { startWorker, type RunningWorker } from './worker-app.ts';
import { standInPipeline } from './stand-in-pipeline.ts';
import type { JobPipeline } from './pipeline.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(REDIS_URL);
const prefixes: string[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of prefixes) await deleteTestKeys(redis, p);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await redis.quit();
});

interface Harness {
  prefix: string;
  config: WorkerConfig;
  jobs: JobStore;
  store: FsStore;
  queue: ReturnType<typeof openQueue>;
  start(pipeline: JobPipeline, overrides?: Partial<WorkerConfig>): Promise<RunningWorker>;
  submit(opts?: { attempts?: number; webhookUrl?: string }): Promise<Job>;
  waitFor(id: string, pred: (job: Job) => boolean, timeoutMs?: number): Promise<Job>;
  statuses(id: string): Promise<JobStatus[]>;
  close(): Promise<void>;
}

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const prefix = testPrefix();
  prefixes.push(prefix);
  const dataDir = await mkdtemp(join(tmpdir(), 'hifi-worker-test-'));
  dirs.push(dataDir);
  const config = loadWorkerConfig({
    REDIS_URL,
    HIFI_REDIS_PREFIX: prefix,
    HIFI_STORAGE: 'fs',
    HIFI_DATA_DIR: join(dataDir, 'objects'),
    HIFI_WORK_DIR: join(dataDir, 'work'),
    HIFI_LOCK_DURATION_MS: '5000',
    HIFI_STALLED_INTERVAL_MS: '1000',
    HIFI_PROGRESS_THROTTLE_MS: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const jobs = new JobStore({ redis, prefix });
  const store = new FsStore(join(dataDir, 'objects'));
  const queue = openQueue('cpu', redis, prefix);
  const workers: RunningWorker[] = [];
  return {
    prefix,
    config,
    jobs,
    store,
    queue,
    async start(pipeline, overrides = {}) {
      const w = await startWorker({ config: { ...config, ...overrides }, logger: pino({ level: process.env.HIFI_TEST_LOG ?? 'silent' }), pipeline, store });
      workers.push(w);
      return w;
    },
    async submit(opts = {}) {
      const spec = normaliseJobSpec({ model: 'tiny-bert', task: 'glue:SST-2', ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}) });
      const { job } = await jobs.create({ tenant: 'acme', spec });
      await queue.add('finetune', { jobId: job.id, tenant: 'acme', schemaVersion: 1 }, { jobId: job.id, attempts: opts.attempts ?? 3, backoff: { type: 'fixed', delay: 50 } });
      return job;
    },
    async waitFor(id, pred, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const job = await jobs.get(id);
        if (job && pred(job)) return job;
        if (Date.now() > until) throw new Error(`timed out waiting for job ${id}; last: ${JSON.stringify({ status: job?.status, error: job?.error, progress: job?.progress })}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async statuses(id) {
      const events = await jobs.readEvents(id, { limit: 1000 });
      return events.flatMap((e) => (e.type === 'status_changed' ? [e.data.to] : []));
    },
    async close() {
      for (const w of workers) await w.shutdown();
      await queue.close();
    },
  };
}

test('a job runs queued → analyzing → training → evaluating → exporting → succeeded, with its artifacts stored', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  await h.start(standInPipeline({ steps: 6, stepMs: 5, checkpointEvery: 2 }));
  const job = await h.submit();
  const done = await h.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed');
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.deepEqual(await h.statuses(job.id), ['queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded']);
  const names = done.artifacts.map((a) => a.name).sort();
  // Step checkpoints written during training are kept in the final set.
  assert.deepEqual(names, ['checkpoint-step-00000002.zip', 'checkpoint-step-00000004.zip', 'head_mask.json', 'heads.json', 'heads.safetensors', 'metrics.json']);
  for (const a of done.artifacts) {
    const bytes = await readObject(h.store, storageKeys.artifact(job.id, a.name));
    assert.equal(bytes.length, a.size, a.name);
  }
  assert.equal(done.artifacts.find((a) => a.name === 'checkpoint-step-00000004.zip')?.kind, 'checkpoint');
  assert.equal(done.artifacts.find((a) => a.name === 'checkpoint-step-00000004.zip')?.step, 4);
  const metrics = JSON.parse((await readObject(h.store, storageKeys.artifact(job.id, 'metrics.json'))).toString());
  assert.equal(metrics.final, true);
  assert.deepEqual(metrics.latest.eval, { accuracy: 0.75 });
  assert.equal(done.progress?.stage, 'training');
  assert.equal(done.progress?.step, 6);
  // Nothing is left in the temp folders of the artifact set.
  const keys = (await h.store.list(`jobs/${job.id}`)).map((o) => o.key);
  assert.ok(keys.every((k) => k.startsWith(`jobs/${job.id}/artifacts/`)), keys.join(', '));
});

test('the lock is renewed while a job does CPU-bound work longer than lockDuration (no stall, one attempt)', async (t) => {
  const h = await harness({ HIFI_LOCK_DURATION_MS: '1000', HIFI_STALLED_INTERVAL_MS: '500' });
  t.after(() => h.close());
  // 30 steps of 100 ms of synchronous work: 3 s, three times the lock duration; the event loop gets a turn
  // between steps, which is all the lock renewal timer needs.
  const w = await h.start(standInPipeline({ steps: 30, stepMs: 100 }));
  const worker = w.workers.get('cpu')!;
  let renewals = 0;
  let stalled = 0;
  worker.on('locksRenewed', () => renewals++);
  worker.on('stalled', () => stalled++);
  const started = Date.now();
  const job = await h.submit();
  const done = await h.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed', 30_000);
  assert.equal(done.status, 'succeeded');
  assert.ok(Date.now() - started > 2000, 'the job ran longer than the lock duration');
  assert.ok(renewals >= 2, `locks renewed ${renewals} times`);
  assert.equal(stalled, 0);
  const bull = await h.queue.getJob(job.id);
  assert.equal(bull?.attemptsStarted, 1);
  assert.deepEqual(await h.statuses(job.id), ['queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded']);
});

test('cancel of a running job reaches the worker over pub/sub and stops it at the next step', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  let lastStep = 0;
  await h.start(standInPipeline({ steps: 2000, stepMs: 5, onStep: (s) => (lastStep = s) }));
  // A long poll interval, so that only the pub/sub message can stop it quickly.
  const job = await h.submit();
  await h.waitFor(job.id, (j) => j.status === 'training' && (j.progress?.step ?? 0) >= 3);
  const asked = Date.now();
  const r = await h.jobs.requestCancel(job.id);
  assert.equal(r?.outcome, 'requested');
  const done = await h.waitFor(job.id, (j) => j.status === 'cancelled');
  assert.ok(Date.now() - asked < 1500, 'stopped promptly');
  assert.ok(lastStep < 2000, `stopped at step ${lastStep}`);
  assert.equal(done.error, null);
  assert.equal((await h.statuses(job.id)).at(-1), 'cancelled');
});

test('a job cancelled while queued never runs, even if its queue entry is still there', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const pipeline = standInPipeline({ steps: 3, stepMs: 1 });
  const job = await h.submit();
  assert.equal((await h.jobs.requestCancel(job.id))?.outcome, 'cancelled');
  await h.start(pipeline);
  const until = Date.now() + 10_000;
  while ((await h.queue.getJobState(job.id)) !== 'completed' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await h.queue.getJobState(job.id), 'completed');
  assert.equal(pipeline.runs, 0);
  assert.equal((await h.jobs.get(job.id))?.status, 'cancelled');
});

test('shutdown checkpoints the running job and releases it to the queue without using an attempt; the next worker resumes', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const first = await h.start(standInPipeline({ steps: 400, stepMs: 5, checkpointEvery: 50 }));
  const job = await h.submit({ attempts: 1 });
  await h.waitFor(job.id, (j) => j.status === 'training' && (j.progress?.step ?? 0) >= 20);
  await first.shutdown('SIGTERM');
  const released = await h.jobs.get(job.id);
  assert.equal(released?.status, 'queued');
  assert.equal(await h.queue.getJobState(job.id), 'waiting');
  const bull = await h.queue.getJob(job.id);
  assert.equal(bull?.attemptsMade, 0, 'no attempt used');
  const checkpoints = released!.artifacts.filter((a) => a.kind === 'checkpoint');
  assert.ok(checkpoints.length >= 1, 'a checkpoint was written on the way out');
  const savedStep = Math.max(...checkpoints.map((a) => a.step ?? 0));
  assert.ok(savedStep >= 20, `checkpoint at step ${savedStep}`);

  await h.start(standInPipeline({ steps: 400, stepMs: 1, checkpointEvery: 50 }));
  const done = await h.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed');
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.resumedFromStep, savedStep);
  const events = await h.jobs.readEvents(job.id, { limit: 1000 });
  assert.ok(events.some((e) => e.type === 'log' && e.data.message.includes(`resumed from checkpoint step-${String(savedStep).padStart(8, '0')}`)));
});

test('bad input fails the job at once with a readable {code, message, param} and no retry', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const badRows = Object.assign(new Error('train.jsonl: no valid rows (3 rejected) (line 1: missing "label")'), { code: 'INVALID_DATASET' });
  const pipeline = standInPipeline({ steps: 5, stepMs: 1, failAt: { step: 1, error: () => badRows, times: 10 } });
  await h.start(pipeline);
  const job = await h.submit({ attempts: 3 });
  const done = await h.waitFor(job.id, (j) => j.status === 'failed');
  assert.deepEqual(done.error, { code: 'INVALID_DATASET', message: badRows.message, param: 'task' });
  assert.equal(pipeline.runs, 1);
  assert.equal(await h.queue.getJobState(job.id), 'failed');
  const events = await h.jobs.readEvents(job.id, { limit: 1000 });
  assert.ok(events.some((e) => e.type === 'error' && e.data.code === 'INVALID_DATASET'));
});

test('a transient error is retried by BullMQ and the retry resumes from the checkpoint', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const pipeline = standInPipeline({ steps: 20, stepMs: 1, checkpointEvery: 5, failAt: { step: 12, error: () => new Error('ECONNRESET talking to S3') } });
  await h.start(pipeline);
  const job = await h.submit({ attempts: 3 });
  const done = await h.waitFor(job.id, (j) => j.status === 'succeeded' || j.status === 'failed');
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(pipeline.runs, 2);
  assert.equal(done.resumedFromStep, 10);
  const statuses = await h.statuses(job.id);
  assert.deepEqual(statuses, ['queued', 'analyzing', 'training', 'queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded']);
});

test('the last failed attempt marks the job failed with INTERNAL', async (t) => {
  const h = await harness();
  t.after(() => h.close());
  const pipeline = standInPipeline({ steps: 5, stepMs: 1, failAt: { step: 2, error: () => new Error('disk full'), times: 5 } });
  await h.start(pipeline);
  const job = await h.submit({ attempts: 2 });
  const done = await h.waitFor(job.id, (j) => j.status === 'failed');
  assert.equal(pipeline.runs, 2);
  assert.equal(done.error?.code, 'INTERNAL');
  assert.match(done.error!.message, /disk full/);
});

test('a job whose lock expires (event loop blocked past lockDuration) stops quietly; BullMQ fails it and the record says WORKER_LOST', async (t) => {
  const h = await harness({ HIFI_LOCK_DURATION_MS: '500', HIFI_STALLED_INTERVAL_MS: '200', HIFI_MAX_STALLED_COUNT: '0' });
  t.after(() => h.close());
  // 1.5 s of synchronous work per step: three times the lock duration without a turn of the event loop.
  let stepsRun = 0;
  await h.start(standInPipeline({ steps: 6, stepMs: 1500, onStep: () => stepsRun++ }));
  const job = await h.submit({ attempts: 1 });
  const done = await h.waitFor(job.id, (j) => j.status === 'failed' || j.status === 'succeeded', 20_000);
  assert.equal(done.status, 'failed');
  assert.equal(done.error?.code, 'WORKER_LOST');
  assert.match(done.error!.message, /stalled/);
  assert.ok(stepsRun < 6, `the pipeline was stopped after ${stepsRun} steps`);
});
