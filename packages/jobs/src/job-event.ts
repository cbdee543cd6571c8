// What happened to a job, in order. Each event has an integer id that increases by one per event of the job
// (used as the SSE `id:` and the `?after=` cursor). Events live in a Redis stream with bounded retention.
import { Type, type Static, type TSchema, type TLiteral } from '@sinclair/typebox';
import { JobStatus } from './job-status.ts';
import { StringEnum } from './string-enum.ts';
import { JobProgress, MetricValues } from './job-progress.ts';
import { ARTIFACT_NAME_PATTERN, JobError, Artifact } from './job-record.ts';

export const StatusChangedData = Type.Object(
  {
    from: Type.Union([JobStatus, Type.Null()]),
    to: JobStatus,
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export const LogData = Type.Object(
  {
    level: StringEnum(['debug', 'info', 'warn', 'error']),
    message: Type.String(),
  },
  { additionalProperties: false },
);
export const MetricsData = Type.Object(
  {
    split: StringEnum(['train', 'eval']),
    step: Type.Integer({ minimum: 0 }),
    epoch: Type.Union([Type.Number(), Type.Null()]),
    values: MetricValues,
  },
  { additionalProperties: false },
);
export const ArtifactRemovedData = Type.Object(
  { name: Type.String({ pattern: ARTIFACT_NAME_PATTERN, description: 'The artifact whose record was removed (e.g. a checkpoint rotated out).' }) },
  { additionalProperties: false },
);
export const CheckpointData = Type.Object(
  {
    step: Type.Integer({ minimum: 0 }),
    artifact: Type.String({ description: 'Name of the checkpoint artifact.' }),
  },
  { additionalProperties: false },
);

function eventSchema<K extends string, D extends TSchema>(type: K, data: D) {
  return Type.Object(
    {
      id: Type.Integer({ minimum: 1 }),
      jobId: Type.String(),
      type: Type.Literal(type) as TLiteral<K>,
      at: Type.String({ description: 'ISO 8601 time.' }),
      data,
    },
    { additionalProperties: false, title: `${type} event` },
  );
}

export const StatusChangedEvent = eventSchema('status_changed', StatusChangedData);
export const ProgressEvent = eventSchema('progress', JobProgress);
export const LogEvent = eventSchema('log', LogData);
export const MetricsEvent = eventSchema('metrics', MetricsData);
export const CheckpointEvent = eventSchema('checkpoint', CheckpointData);
export const ArtifactEvent = eventSchema('artifact', Artifact);
export const ArtifactRemovedEvent = eventSchema('artifact_removed', ArtifactRemovedData);
export const ErrorEvent = eventSchema('error', JobError);

export const JobEvent = Type.Union([StatusChangedEvent, ProgressEvent, LogEvent, MetricsEvent, CheckpointEvent, ArtifactEvent, ArtifactRemovedEvent, ErrorEvent], {
  title: 'JobEvent',
  description: 'One event of a job, discriminated by `type`.',
});
export type JobEvent = Static<typeof JobEvent>;
export type JobEventType = JobEvent['type'];
export const JOB_EVENT_TYPES: readonly JobEventType[] = ['status_changed', 'progress', 'log', 'metrics', 'checkpoint', 'artifact', 'artifact_removed', 'error'];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a producer appends: the store assigns `id`, `jobId` and `at`. */
export type JobEventInput = DistributiveOmit<JobEvent, 'id' | 'jobId' | 'at'>;

export function isTerminalStatusEvent(event: JobEvent): boolean {
  return event.type === 'status_changed' && (event.data.to === 'succeeded' || event.data.to === 'failed' || event.data.to === 'cancelled');
}
