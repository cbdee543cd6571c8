// The worker's settings, read from the environment once (defaults, types, checks). The settings it shares with the
// API (Redis, storage, model and GLUE folders, log level, webhook-private flag) come from @hifi/jobs'
// serviceSettingsFromEnv; this file adds the worker's own. A bad value throws a WorkerConfigError naming the
// variable. apps/worker/README.md lists the same variables.
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  envInteger,
  envString,
  JOB_CATALOG,
  QUEUE_KINDS,
  ServiceConfigError,
  serviceSettingsFromEnv,
  type QueueKind,
  type ServiceEnv,
  type ServiceSettings,
} from '@hifi/jobs';

/** A bad worker setting (the error every service config throws, under the worker's name for it). */
export { ServiceConfigError as WorkerConfigError };

export interface WorkerConfig extends ServiceSettings {
  /** Hub and s3:// model downloads (HIFI_CACHE_DIR). */
  cacheDir: string;
  /** Scratch space for a job's local output directory and downloads; removed after each job. */
  workDir: string;
  /** Which pools this process serves. */
  queues: QueueKind[];
  /** Jobs run at once per queue. */
  concurrency: number;
  /** BullMQ job lock; renewed every lockDuration/2, so the event loop must never be blocked that long. */
  lockDurationMs: number;
  /** How often BullMQ looks for jobs whose lock expired (a crashed or killed worker). */
  stalledIntervalMs: number;
  /** How many times a stalled job goes back to the queue before BullMQ fails it. */
  maxStalledCount: number;
  /** Longest a job may run before it is aborted and failed with JOB_TIMEOUT. */
  jobTimeoutMs: number;
  /** A resumable checkpoint every N optimiser steps (0: only at evaluations and by time). */
  checkpointEverySteps: number;
  /** …and at least every this many minutes of training (0: never by time). */
  checkpointMinutes: number;
  /** Minimum ms between two progress writes of one job. */
  progressThrottleMs: number;
  /** HMAC key of webhook signatures; null sends webhooks unsigned (a warning is logged). */
  webhookSecret: string | null;
  webhookAttempts: number;
  /** First retry delay; doubles each attempt. */
  webhookBackoffMs: number;
  webhookTimeoutMs: number;
  /** How long SIGTERM waits for running jobs to checkpoint and go back to the queue before exiting anyway. */
  shutdownTimeoutMs: number;
  /** Name stored on each BullMQ job this worker processes (default: hostname:pid). */
  workerName: string;
}

function queues(raw: string | undefined): QueueKind[] {
  if (raw === undefined) return ['cpu'];
  const names = raw.split(',').map((q) => q.trim()).filter((q) => q !== '');
  if (names.length === 0) throw new ServiceConfigError('HIFI_QUEUES', 'name at least one queue (cpu, gpu)');
  for (const q of names) {
    if (!(QUEUE_KINDS as readonly string[]).includes(q)) throw new ServiceConfigError('HIFI_QUEUES', `${JSON.stringify(q)} is not a queue; use ${QUEUE_KINDS.join(', ')}`);
  }
  return [...new Set(names)] as QueueKind[];
}

export function loadWorkerConfig(env: ServiceEnv = process.env): WorkerConfig {
  return {
    ...serviceSettingsFromEnv(env),
    cacheDir: resolve(envString(env, 'HIFI_CACHE_DIR') ?? join(homedir(), '.cache', 'hifi', 'hub')),
    workDir: resolve(envString(env, 'HIFI_WORK_DIR') ?? join(tmpdir(), 'hifi-worker')),
    queues: queues(envString(env, 'HIFI_QUEUES')),
    concurrency: envInteger(env, 'HIFI_WORKER_CONCURRENCY', 1, 1, 64),
    lockDurationMs: envInteger(env, 'HIFI_LOCK_DURATION_MS', 120_000, 500, 24 * 3_600_000),
    stalledIntervalMs: envInteger(env, 'HIFI_STALLED_INTERVAL_MS', 30_000, 100, 24 * 3_600_000),
    maxStalledCount: envInteger(env, 'HIFI_MAX_STALLED_COUNT', 2, 0, 1000),
    jobTimeoutMs: envInteger(env, 'HIFI_JOB_TIMEOUT_MS', JOB_CATALOG.finetune.timeoutMs, 1000, 30 * 24 * 3_600_000),
    checkpointEverySteps: envInteger(env, 'HIFI_CHECKPOINT_EVERY_STEPS', 0, 0, 10_000_000),
    checkpointMinutes: envInteger(env, 'HIFI_CHECKPOINT_MINUTES', 10, 0, 24 * 60),
    progressThrottleMs: envInteger(env, 'HIFI_PROGRESS_THROTTLE_MS', 1000, 0, 3_600_000),
    webhookSecret: envString(env, 'HIFI_WEBHOOK_SECRET') ?? null,
    webhookAttempts: envInteger(env, 'HIFI_WEBHOOK_ATTEMPTS', 8, 1, 100),
    webhookBackoffMs: envInteger(env, 'HIFI_WEBHOOK_BACKOFF_MS', 2000, 1, 3_600_000),
    webhookTimeoutMs: envInteger(env, 'HIFI_WEBHOOK_TIMEOUT_MS', 10_000, 100, 300_000),
    shutdownTimeoutMs: envInteger(env, 'HIFI_SHUTDOWN_TIMEOUT_MS', 30_000, 100, 3_600_000),
    workerName: envString(env, 'HIFI_WORKER_NAME') ?? `${env.HOSTNAME ?? 'worker'}:${process.pid}`,
  };
}
