// Where a running job is: written by the worker (throttled by JobStore.setProgress), read by clients.
import { Type, type Static } from '@sinclair/typebox';
import { JobStatus } from './job-status.ts';

export const MetricValues = Type.Record(Type.String(), Type.Number(), {
  description: 'Named numbers, e.g. {"loss": 0.41, "accuracy": 0.83}.',
});
export type MetricValues = Static<typeof MetricValues>;

export const JobProgress = Type.Object(
  {
    stage: JobStatus,
    step: Type.Integer({ minimum: 0, description: 'Optimiser steps done (or analysis batches in `analyzing`).' }),
    totalSteps: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    epoch: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: 'Fractional epoch, e.g. 1.5.' }),
    metrics: MetricValues,
    etaSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
    updatedAt: Type.String({ description: 'ISO 8601 time of this progress report.' }),
  },
  { title: 'JobProgress', additionalProperties: false },
);
export type JobProgress = Static<typeof JobProgress>;
