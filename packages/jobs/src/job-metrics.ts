// GET /v1/jobs/{id}/metrics: the job's metric points over time (from its `metrics` events) and the latest train
// and eval values. At the end of a job the worker stores this view as the artifact `metrics.json` with
// `final: true`; the trainer's own summary (final metrics, history, parameter counts, timings) is stored as
// `training-metrics.json` and embedded by the API as `report` (its shape belongs to the trainer: opaque here).
import { Type, type Static } from '@sinclair/typebox';
import { MetricValues } from './job-progress.ts';
import { MetricsData } from './job-event.ts';
import type { JobEvent } from './job-event.ts';

export const JobMetrics = Type.Object(
  {
    jobId: Type.String(),
    points: Type.Array(MetricsData, { description: 'Every reported point, oldest first.' }),
    latest: Type.Object(
      { train: Type.Union([MetricValues, Type.Null()]), eval: Type.Union([MetricValues, Type.Null()]) },
      { additionalProperties: false },
    ),
    final: Type.Boolean({ description: 'True once the job stored its final metrics (`metrics.json`).' }),
    report: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: 'The trainer’s summary (`training-metrics.json` artifact) once written; null before.',
    }),
  },
  { title: 'JobMetrics', additionalProperties: false },
);
export type JobMetrics = Static<typeof JobMetrics>;

/** Builds the metrics view from a job's events (the `metrics` ones; others are ignored). */
export function metricsFromEvents(jobId: string, events: readonly JobEvent[]): JobMetrics {
  const points = events.flatMap((e) => (e.type === 'metrics' ? [e.data] : []));
  const last = (split: 'train' | 'eval') => points.filter((p) => p.split === split).at(-1)?.values ?? null;
  return { jobId, points, latest: { train: last('train'), eval: last('eval') }, final: false, report: null };
}
