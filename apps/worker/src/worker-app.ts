// One worker process: a BullMQ Worker per configured queue (cpu, gpu) running the finetune processor, the webhook
// delivery Worker, the cancel subscription, and a QueueEvents listener that records jobs BullMQ failed on its own
// (stalled too often) on the job record. `shutdown()` is what SIGTERM does: stop taking jobs, stop the running
// ones at their next batch (they checkpoint and go back to the queue), close everything.
import { QueueEvents, Worker, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { enqueueWebhook, JobStore, JobSubscriber, openWebhookQueue, QUEUE_NAMES, redisKeys, type FinetuneJobData, type Job, type QueueKind, type WebhookQueue } from '@hifi/jobs';
import { createStore, type ObjectStore } from '@hifi/storage';
import type { WorkerConfig } from './config.ts';
import { processFinetuneJob, type FinetuneBullJob, type FinetuneOutcome } from './finetune-processor.ts';
import { describeError } from './job-errors.ts';
import type { JobPipeline } from './pipeline.ts';
import { RunningJobs } from './running-jobs.ts';
import { startWebhookWorker, type WebhookSettings } from './webhooks.ts';

export interface StartWorkerOptions {
  config: WorkerConfig;
  logger: Logger;
  /** The job pipeline; default: the trainer's (loaded on first use). */
  pipeline?: JobPipeline;
  /** Object storage; default from config.storage (closed with the worker). */
  store?: ObjectStore;
}

export interface RunningWorker {
  readonly workers: ReadonlyMap<QueueKind, Worker<FinetuneJobData, FinetuneOutcome, 'finetune'>>;
  readonly running: RunningJobs;
  readonly jobs: JobStore;
  /** Graceful stop: no new jobs; running jobs checkpoint and go back to the queue; then everything closes. */
  shutdown(reason?: string): Promise<void>;
}

/** The trainer-backed pipeline, imported only when needed (it loads tfjs). */
async function defaultPipeline(config: WorkerConfig, store: ObjectStore, redis: Redis): Promise<JobPipeline> {
  const { createTrainerPipeline } = await import('./trainer-pipeline.ts');
  return createTrainerPipeline({ config, store, redis });
}

export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const { config, logger } = opts;
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'Redis connection error'));
  const jobs = new JobStore({ redis, prefix: config.redisPrefix, progressThrottleMs: config.progressThrottleMs });
  const store = opts.store ?? createStore(config.storage);
  const pipeline = opts.pipeline ?? (await defaultPipeline(config, store, redis));
  const running = new RunningJobs();
  const bullPrefix = redisKeys(config.redisPrefix).bullPrefix;
  const connections: Redis[] = [];
  // BullMQ connections: blocking commands must wait as long as they need (maxRetriesPerRequest: null).
  const connection = (): ConnectionOptions => {
    const c = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
    c.on('error', () => {});
    connections.push(c);
    return c;
  };

  const webhookSettings: WebhookSettings = {
    secret: config.webhookSecret,
    attempts: config.webhookAttempts,
    backoffMs: config.webhookBackoffMs,
    timeoutMs: config.webhookTimeoutMs,
    allowPrivate: config.webhookAllowPrivate,
  };
  if (config.webhookSecret === null) logger.warn('HIFI_WEBHOOK_SECRET is not set: webhooks are sent without an X-Hifi-Signature');
  if (config.webhookAllowPrivate) logger.warn('HIFI_WEBHOOK_ALLOW_PRIVATE is set: webhooks may go to loopback, private and link-local addresses');
  const webhookQueue: WebhookQueue = openWebhookQueue(connection(), config.redisPrefix);
  webhookQueue.on('error', (err) => logger.warn({ err: err.message }, 'webhook queue error'));
  const onTerminal = (job: Job) => enqueueWebhook(webhookQueue, job);

  // Cancel requests for running jobs arrive on one pub/sub channel; only the worker running the job acts.
  const subscriber = new JobSubscriber({ connection: redis, prefix: config.redisPrefix });
  await subscriber.onCancel((jobId) => {
    if (running.stop(jobId, 'cancel')) logger.child({ jobId }).info('cancel requested; stopping at the next batch');
  });

  const workers = new Map<QueueKind, Worker<FinetuneJobData, FinetuneOutcome, 'finetune'>>();
  const queueEvents: QueueEvents[] = [];
  for (const kind of config.queues) {
    const worker = new Worker<FinetuneJobData, FinetuneOutcome, 'finetune'>(
      QUEUE_NAMES[kind],
      (job: FinetuneBullJob, token?: string) =>
        processFinetuneJob(job, token, { jobs, store, pipeline, running, logger, workDir: config.workDir, jobTimeoutMs: config.jobTimeoutMs, onTerminal }),
      {
        connection: connection(),
        prefix: bullPrefix,
        concurrency: config.concurrency,
        lockDuration: config.lockDurationMs,
        stalledInterval: config.stalledIntervalMs,
        maxStalledCount: config.maxStalledCount,
        name: config.workerName,
        autorun: true,
      },
    );
    worker.on('error', (err) => logger.warn({ queue: kind, err: err.message }, 'worker error'));
    worker.on('stalled', (jobId) => logger.warn({ queue: kind, jobId }, 'a stalled job went back to the queue'));
    worker.on('lockRenewalFailed', (ids: string[]) => {
      for (const jobId of ids) if (running.stop(jobId, 'lock-lost')) logger.child({ jobId }).error('could not renew the job lock; stopping it');
    });
    workers.set(kind, worker);

    // A job BullMQ fails by itself (stalled more than maxStalledCount times) never reaches a processor: record it.
    const events = new QueueEvents(QUEUE_NAMES[kind], { connection: connection(), prefix: bullPrefix });
    events.on('error', (err) => logger.warn({ queue: kind, err: err.message }, 'queue events error'));
    events.on('failed', ({ jobId, failedReason }) => {
      if (!/stalled more than allowable limit|started more than allowable limit/.test(failedReason)) return;
      const log = logger.child({ jobId });
      jobs
        .updateStatus(jobId, 'failed', { error: { code: 'WORKER_LOST', message: `the workers running this job stopped too often (${failedReason})` } })
        .then(async (r) => {
          if (!r.changed) return;
          log.error({ failedReason }, 'job failed: its workers kept stopping');
          const job = await jobs.get(jobId);
          if (job) await onTerminal(job);
        })
        .catch((err: unknown) => log.debug({ err: describeError(err) }, 'stalled-failure not recorded'));
    });
    queueEvents.push(events);
  }
  const webhookWorker = startWebhookWorker({ connection: connection(), prefix: config.redisPrefix, settings: webhookSettings, jobs, logger });
  logger.info(
    { queues: config.queues, concurrency: config.concurrency, lockDurationMs: config.lockDurationMs, stalledIntervalMs: config.stalledIntervalMs, storage: store.location, prefix: config.redisPrefix },
    'worker started',
  );

  let closing: Promise<void> | null = null;
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    closing ??= (async () => {
      logger.info({ reason, running: running.ids() }, 'shutting down: no new jobs; running jobs checkpoint and go back to the queue');
      // close() stops fetching at once and resolves when the running jobs have returned; stopping them makes
      // each one checkpoint, release itself (moveToWait) and return.
      const closes = [...workers.values()].map((w) => w.close());
      running.stopAll('shutdown');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled(closes).then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), config.shutdownTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn({ running: running.ids() }, `jobs did not stop within ${config.shutdownTimeoutMs} ms; closing anyway (their locks expire and they are retried)`);
        await Promise.allSettled([...workers.values()].map((w) => w.close(true)));
      }
      await Promise.allSettled([webhookWorker.close(), ...queueEvents.map((e) => e.close()), webhookQueue.close(), subscriber.close()]);
      if (!opts.store) await store.close().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
      for (const c of connections) await c.quit().catch(() => c.disconnect());
      logger.info('worker stopped');
    })();
    return closing;
  };

  return { workers, running, jobs, shutdown };
}
