// The worker's settings, read from the environment once (defaults, types, checks). A bad value throws a
// WorkerConfigError naming the variable. apps/worker/README.md lists the same variables.
import { homedir, tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_REDIS_PREFIX, JOB_CATALOG, QUEUE_KINDS, redisKeys, type QueueKind } from '@hifi/jobs';
import { storageConfigFromEnv, type StorageConfig } from '@hifi/storage';

export interface WorkerConfig {
  redisUrl: string;
  redisPrefix: string;
  storage: StorageConfig;
  /** Absolute directories local models and registered model ids may come from. */
  modelDirs: string[];
  /** Folder holding CoLA/, SST-2/, … (GLUE_DIR); null when not set. */
  glueDir: string | null;
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
  /** HIFI_WEBHOOK_ALLOW_PRIVATE: webhooks may go to loopback, private, link-local, CGNAT and unique-local addresses. */
  webhookAllowPrivate: boolean;
  /** How long SIGTERM waits for running jobs to checkpoint and go back to the queue before exiting anyway. */
  shutdownTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Name stored on each BullMQ job this worker processes (default: hostname:pid). */
  workerName: string;
}

export class WorkerConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'WorkerConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new WorkerConfigError(name, `${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
  return n;
}

function dirs(name: string, raw: string | undefined): string[] {
  if (raw === undefined) return [];
  return raw
    .split(new RegExp(`[,${delimiter}]`))
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map((d) => {
      if (!isAbsolute(d)) throw new WorkerConfigError(name, `${JSON.stringify(d)} must be an absolute path`);
      return resolve(d);
    });
}

function queues(raw: string | undefined): QueueKind[] {
  if (raw === undefined) return ['cpu'];
  const names = raw.split(',').map((q) => q.trim()).filter((q) => q !== '');
  if (names.length === 0) throw new WorkerConfigError('HIFI_QUEUES', 'name at least one queue (cpu, gpu)');
  for (const q of names) {
    if (!(QUEUE_KINDS as readonly string[]).includes(q)) throw new WorkerConfigError('HIFI_QUEUES', `${JSON.stringify(q)} is not a queue; use ${QUEUE_KINDS.join(', ')}`);
  }
  return [...new Set(names)] as QueueKind[];
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (TRUE.includes(raw.toLowerCase())) return true;
  if (FALSE.includes(raw.toLowerCase())) return false;
  throw new WorkerConfigError(name, `${JSON.stringify(raw)} must be 1 or 0 (or true/false, yes/no, on/off)`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const redisUrl = value(env, 'REDIS_URL') ?? 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(redisUrl)) throw new WorkerConfigError('REDIS_URL', `${JSON.stringify(redisUrl)} must start with redis:// or rediss://`);
  const redisPrefix = value(env, 'HIFI_REDIS_PREFIX') ?? DEFAULT_REDIS_PREFIX;
  try {
    redisKeys(redisPrefix);
  } catch {
    throw new WorkerConfigError('HIFI_REDIS_PREFIX', `${JSON.stringify(redisPrefix)} may use letters, digits, _ . - (at most 64)`);
  }
  let storage: StorageConfig;
  try {
    storage = storageConfigFromEnv(env);
  } catch (err) {
    const setting = (err as { setting?: string }).setting ?? 'HIFI_STORAGE';
    throw new WorkerConfigError(setting, err instanceof Error ? err.message : String(err));
  }
  const logLevel = value(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new WorkerConfigError('LOG_LEVEL', `${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  const glueDir = value(env, 'GLUE_DIR');
  const lockDurationMs = integer(env, 'HIFI_LOCK_DURATION_MS', 120_000, 500, 24 * 3_600_000);
  return {
    redisUrl,
    redisPrefix,
    storage,
    modelDirs: dirs('HIFI_MODEL_DIRS', value(env, 'HIFI_MODEL_DIRS')),
    glueDir: glueDir === undefined ? null : resolve(glueDir),
    cacheDir: resolve(value(env, 'HIFI_CACHE_DIR') ?? join(homedir(), '.cache', 'hifi', 'hub')),
    workDir: resolve(value(env, 'HIFI_WORK_DIR') ?? join(tmpdir(), 'hifi-worker')),
    queues: queues(value(env, 'HIFI_QUEUES')),
    concurrency: integer(env, 'HIFI_WORKER_CONCURRENCY', 1, 1, 64),
    lockDurationMs,
    stalledIntervalMs: integer(env, 'HIFI_STALLED_INTERVAL_MS', 30_000, 100, 24 * 3_600_000),
    maxStalledCount: integer(env, 'HIFI_MAX_STALLED_COUNT', 2, 0, 1000),
    jobTimeoutMs: integer(env, 'HIFI_JOB_TIMEOUT_MS', JOB_CATALOG.finetune.timeoutMs, 1000, 30 * 24 * 3_600_000),
    checkpointEverySteps: integer(env, 'HIFI_CHECKPOINT_EVERY_STEPS', 0, 0, 10_000_000),
    checkpointMinutes: integer(env, 'HIFI_CHECKPOINT_MINUTES', 10, 0, 24 * 60),
    progressThrottleMs: integer(env, 'HIFI_PROGRESS_THROTTLE_MS', 1000, 0, 3_600_000),
    webhookSecret: value(env, 'HIFI_WEBHOOK_SECRET') ?? null,
    webhookAttempts: integer(env, 'HIFI_WEBHOOK_ATTEMPTS', 8, 1, 100),
    webhookBackoffMs: integer(env, 'HIFI_WEBHOOK_BACKOFF_MS', 2000, 1, 3_600_000),
    webhookTimeoutMs: integer(env, 'HIFI_WEBHOOK_TIMEOUT_MS', 10_000, 100, 300_000),
    webhookAllowPrivate: flag(env, 'HIFI_WEBHOOK_ALLOW_PRIVATE', false),
    shutdownTimeoutMs: integer(env, 'HIFI_SHUTDOWN_TIMEOUT_MS', 30_000, 100, 3_600_000),
    logLevel: logLevel as WorkerConfig['logLevel'],
    workerName: value(env, 'HIFI_WORKER_NAME') ?? `${env.HOSTNAME ?? 'worker'}:${process.pid}`,
  };
}
