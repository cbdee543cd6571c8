// The job record: the state of record kept in Redis by JobStore and returned by the API.
import { Type, type Static } from '@sinclair/typebox';
import { JOB_ID_PATTERN, TENANT_PATTERN } from './ids.ts';
import { StringEnum } from './string-enum.ts';
import { JobSpec } from './job-spec.ts';
import { JobStatus } from './job-status.ts';
import { JobProgress } from './job-progress.ts';

export const JobError = Type.Object(
  {
    code: Type.String({ description: 'A code from the error catalogue, e.g. MODEL_LOAD_FAILED.' }),
    message: Type.String(),
    param: Type.Optional(Type.String({ description: 'The spec field at fault, when there is one (e.g. `model`).' })),
  },
  { title: 'JobError', additionalProperties: false },
);
export type JobError = Static<typeof JobError>;

/** Flat names only (no folders): safe as a URL path segment and as the last part of a storage key. */
export const ARTIFACT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$';
const artifactNameRe = new RegExp(ARTIFACT_NAME_PATTERN);

export function isArtifactName(name: string): boolean {
  return artifactNameRe.test(name) && !name.includes('..');
}

export const ARTIFACT_KINDS = ['report', 'figure', 'metrics', 'checkpoint', 'model', 'adapter', 'log', 'other'] as const;

/** Well-known artifact names the worker writes and the API serves under dedicated routes. */
export const WELL_KNOWN_ARTIFACTS = {
  /** The head report (per-head scores, the selection and its reasons): GET /v1/jobs/{id}/heads. */
  heads: 'heads.json',
  /** The head graph/selection figure: GET /v1/jobs/{id}/heads.svg. */
  headsSvg: 'heads.svg',
  /** The final metrics view (JobMetrics with `final: true`): GET /v1/jobs/{id}/metrics. */
  metrics: 'metrics.json',
  /** The trainer's summary, embedded as `report` in GET /v1/jobs/{id}/metrics. */
  trainingReport: 'training-metrics.json',
} as const;

export const Artifact = Type.Object(
  {
    name: Type.String({ pattern: ARTIFACT_NAME_PATTERN }),
    kind: StringEnum(ARTIFACT_KINDS),
    size: Type.Integer({ minimum: 0, description: 'Bytes.' }),
    contentType: Type.String(),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    step: Type.Optional(Type.Integer({ minimum: 0, description: 'Training step (checkpoints).' })),
    createdAt: Type.String(),
  },
  { title: 'Artifact', additionalProperties: false },
);
export type Artifact = Static<typeof Artifact>;

export const Job = Type.Object(
  {
    id: Type.String({ pattern: JOB_ID_PATTERN }),
    tenant: Type.String({ pattern: TENANT_PATTERN }),
    spec: JobSpec,
    status: JobStatus,
    cancelRequested: Type.Boolean({ description: 'A cancel was asked for while the job was running; the worker stops at its next check.' }),
    progress: Type.Union([JobProgress, Type.Null()]),
    error: Type.Union([JobError, Type.Null()]),
    artifacts: Type.Array(Artifact),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    startedAt: Type.Union([Type.String(), Type.Null()]),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
    resumedFromStep: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Set when a retry resumed from a checkpoint.' }),
    lastEventId: Type.Integer({ minimum: 0, description: 'The id of the newest event (0 when none).' }),
  },
  { title: 'Job', additionalProperties: false },
);
export type Job = Static<typeof Job>;
