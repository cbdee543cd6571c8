// The job catalogue (trigger.dev style): one entry per BullMQ job name with its payload schema, retry policy
// and timeout. The BullMQ payload carries only ids: the state of record (spec, status) is the JobStore's hash.
import { Type, type Static } from '@sinclair/typebox';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { JOB_ID_PATTERN, TENANT_PATTERN } from './ids.ts';
import { redisKeys } from './redis-keys.ts';
import type { QueueKind } from './job-spec.ts';

/** One BullMQ queue per worker pool; names contain no `:` (BullMQ rejects them). */
export const QUEUE_NAMES = { cpu: 'finetune-cpu', gpu: 'finetune-gpu' } as const satisfies Record<QueueKind, string>;

export const FinetuneJobData = Type.Object(
  {
    jobId: Type.String({ pattern: JOB_ID_PATTERN }),
    tenant: Type.String({ pattern: TENANT_PATTERN }),
    schemaVersion: Type.Literal(1),
  },
  { additionalProperties: false },
);
export type FinetuneJobData = Static<typeof FinetuneJobData>;

export const JOB_CATALOG = {
  finetune: {
    data: FinetuneJobData,
    /**
     * Three attempts with exponential backoff (15 s, 30 s): a transient failure (Redis, S3, a worker killed
     * mid-run) is retried and resumes from the last checkpoint; an UnrecoverableJobError fails at once.
     */
    attempts: 3,
    backoff: { type: 'exponential', delay: 15_000 },
    /** The worker aborts a job that runs longer than this and fails it with JOB_TIMEOUT. */
    timeoutMs: 6 * 60 * 60 * 1000,
  },
} as const;
export type JobName = keyof typeof JOB_CATALOG;

export type FinetuneQueue = Queue<FinetuneJobData, unknown, 'finetune'>;

/** Opens the queue of a pool. BullMQ keys live under `${prefix}:bull` (redis-keys.ts). */
export function openQueue(kind: QueueKind, connection: ConnectionOptions, prefix?: string): FinetuneQueue {
  return new Queue<FinetuneJobData, unknown, 'finetune'>(QUEUE_NAMES[kind], { connection, prefix: redisKeys(prefix).bullPrefix });
}

/** BullMQ options for a fine-tuning job: the job id is the BullMQ jobId, so adding twice is a no-op. */
export function finetuneJobOptions(jobId: string): JobsOptions {
  const entry = JOB_CATALOG.finetune;
  return {
    jobId,
    attempts: entry.attempts,
    backoff: { ...entry.backoff },
    removeOnComplete: { age: 7 * 86_400, count: 10_000 },
    removeOnFail: { age: 30 * 86_400 },
  };
}

export async function enqueueJob(queue: FinetuneQueue, job: { id: string; tenant: string }): Promise<void> {
  const data: FinetuneJobData = { jobId: job.id, tenant: job.tenant, schemaVersion: 1 };
  await queue.add('finetune', data, finetuneJobOptions(job.id));
}

/** Removes a job that no worker has taken yet. Returns false when it is not in the queue or is locked (active). */
export async function removeQueuedJob(queue: FinetuneQueue, jobId: string): Promise<boolean> {
  const bullJob = await queue.getJob(jobId);
  if (!bullJob) return false;
  const state = await bullJob.getState();
  if (state === 'active') return false;
  return (await queue.remove(jobId)) === 1;
}
