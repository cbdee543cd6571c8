// Shared schemas of the HTTP API, registered once with `addSchema` under an `$id` and referenced from routes
// with `ref()`, so the OpenAPI document lists them under components.schemas. The contract schemas come from
// @hifi/jobs without ids; they get their `$id` here.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Artifact, Dataset, Job, JobEvent, JobMetrics, JobSpecInput, JobStatus } from '@hifi/jobs';

export const ProblemFieldError = Type.Object(
  {
    path: Type.String({ description: 'JSON pointer into the request part, e.g. `/hyperparameters/batchSize`.' }),
    message: Type.String(),
    in: Type.Optional(Type.Union([Type.Literal('body'), Type.Literal('querystring'), Type.Literal('params'), Type.Literal('headers'), Type.Literal('file')])),
    line: Type.Optional(Type.Integer({ minimum: 1, description: '1-based line of an uploaded file.' })),
  },
  { additionalProperties: false },
);
export type ProblemFieldError = Static<typeof ProblemFieldError>;

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the problem type.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: 'The request path.' }),
    code: Type.String({ description: 'A code from the error catalogue (packages/jobs/src/errors.ts).' }),
    requestId: Type.String(),
    param: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(ProblemFieldError)),
  },
  { description: 'RFC 9457 problem details, served as application/problem+json.' },
);
export type Problem = Static<typeof Problem>;

export const JobPage = Type.Object(
  {
    items: Type.Array(Type.Unsafe<Job>({ $ref: 'Job#' })),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
  },
  { additionalProperties: false },
);

export const JobEventPage = Type.Object(
  {
    items: Type.Array(Type.Unsafe<JobEvent>({ $ref: 'JobEvent#' })),
    nextAfter: Type.Integer({ minimum: 0, description: 'Pass as `after` to continue (the id of the last event returned).' }),
    done: Type.Boolean({ description: 'The job is terminal and every event has been read.' }),
  },
  { additionalProperties: false },
);

export const ArtifactList = Type.Object({ items: Type.Array(Type.Unsafe<Artifact>({ $ref: 'Artifact#' })) }, { additionalProperties: false });

/** Every shared schema by id. Order matters only for readability of the OpenAPI document. */
const SHARED: Record<string, TSchema> = {
  Problem,
  JobSpecInput,
  JobStatus,
  Artifact,
  Job,
  JobPage,
  JobEvent,
  JobEventPage,
  JobMetrics,
  ArtifactList,
  Dataset,
};

export function registerSharedSchemas(app: FastifyInstance): void {
  for (const [id, schema] of Object.entries(SHARED)) app.addSchema({ ...schema, $id: id });
}

/** A reference to a shared schema that keeps its static type for the TypeBox type provider. */
export function ref<T extends TSchema>(schema: T, id: keyof typeof SHARED & string, description?: string): T {
  if (SHARED[id] !== schema) throw new Error(`schema ${id} is not the registered one`);
  return Type.Unsafe<Static<T>>({ $ref: `${id}#`, ...(description === undefined ? {} : { description }) }) as unknown as T;
}

/** An error response: a problem document under its own media type. */
export function problemResponse(description: string) {
  return { description, content: { 'application/problem+json': { schema: ref(Problem, 'Problem') } } };
}

/** Responses every authenticated route can give. */
export const COMMON_ERROR_RESPONSES = {
  400: problemResponse('The request is not valid (`VALIDATION_FAILED`, `MALFORMED_JSON`, …), with field paths in `errors`.'),
  401: problemResponse('No valid API key (`UNAUTHORIZED`).'),
  404: problemResponse('No such resource for this tenant (`NOT_FOUND`).'),
  429: problemResponse('Too many requests (`RATE_LIMITED`); see Retry-After.'),
  500: problemResponse('Internal error (`INTERNAL`); quote the request id.'),
} as const;
