// GET /v1/jobs/{id}/metrics: the job's metric points over time, built from its `metrics` events, plus the final
// report the worker stores as the artifact `metrics.json` (the trainer's summary: final metrics, history,
// parameter counts, timings) once the job has one. The report's shape belongs to the trainer; here it is opaque.
import { Type, type Static } from '@sinclair/typebox';
import { MetricValues } from './job-progress.ts';
import { MetricsData } from './job-event.ts';
import type { JobEvent } from './job-event.ts';

export const JobMetrics = Type.Object(
  {
    jobId: Type.String(),
    points: Type.Array(MetricsData, { description: 'Every reported point, oldest first (within the event retention).' }),
    latest: Type.Object(
      { train: Type.Union([MetricValues, Type.Null()]), eval: Type.Union([MetricValues, Type.Null()]) },
      { additionalProperties: false },
    ),
    report: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: 'The final report (`metrics.json` artifact) once written; null before.',
    }),
  },
  { title: 'JobMetrics', additionalProperties: false },
);
export type JobMetrics = Static<typeof JobMetrics>;

/** Builds the metrics view from a job's events (the `metrics` ones; others are ignored). */
export function metricsFromEvents(jobId: string, events: readonly JobEvent[], report: Record<string, unknown> | null = null): JobMetrics {
  const points = events.flatMap((e) => (e.type === 'metrics' ? [e.data] : []));
  const last = (split: 'train' | 'eval') => points.filter((p) => p.split === split).at(-1)?.values ?? null;
  return { jobId, points, latest: { train: last('train'), eval: last('eval') }, report };
}
