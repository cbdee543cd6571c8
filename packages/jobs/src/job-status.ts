// The life of a job: queued → analyzing → training → evaluating → exporting → succeeded, or failed/cancelled
// from any non-terminal state. Terminal states are final. The allowed transitions are listed here once; the
// JobStore enforces them atomically in Redis.
import type { Static } from '@sinclair/typebox';
import { StringEnum } from './string-enum.ts';

export const JOB_STATUSES = ['queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded', 'failed', 'cancelled'] as const;
export const JobStatus = StringEnum(JOB_STATUSES, { title: 'JobStatus', description: 'queued → analyzing → training → evaluating → exporting → succeeded | failed | cancelled' },
);
export type JobStatus = Static<typeof JobStatus>;

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const RUNNING_STATUSES: readonly JobStatus[] = ['analyzing', 'training', 'evaluating', 'exporting'];

export function isJobStatus(value: string): value is JobStatus {
  return (JOB_STATUSES as readonly string[]).includes(value);
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * Allowed moves, by target. A running stage may go back to `queued` when BullMQ retries the job after a worker
 * crash, and may skip forward (a job resumed from a checkpoint goes straight from `queued` to `training`).
 * `succeeded` is reachable only from `exporting`.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['analyzing', 'training', 'evaluating', 'exporting'],
  analyzing: ['queued'],
  training: ['queued', 'analyzing'],
  evaluating: ['queued', 'analyzing', 'training'],
  exporting: ['queued', 'analyzing', 'training', 'evaluating'],
  succeeded: ['exporting'],
  failed: ['queued', 'analyzing', 'training', 'evaluating', 'exporting'],
  cancelled: ['queued', 'analyzing', 'training', 'evaluating', 'exporting'],
};

/** The states from which `to` may be entered (the table above is keyed by target). */
export function allowedSources(to: JobStatus): readonly JobStatus[] {
  return ALLOWED_TRANSITIONS[to];
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return ALLOWED_TRANSITIONS[to].includes(from);
}
