// A job's artifacts: the list, single files streamed from object storage (with Range → 206/416, and for S3
// `?redirect=1` → 302 to a presigned URL), and the well-known ones under their own routes (head report and
// figure, metrics, checkpoints). Artifact names are flat; `..`, slashes (even encoded) and absolute names → 400.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  check,
  HifiError,
  isArtifactName,
  JobMetrics,
  metricsFromEvents,
  storageKeys,
  StringEnum,
  WELL_KNOWN_ARTIFACTS,
  type Job,
  type JobEvent,
} from '@hifi/jobs';
import { readObject } from '@hifi/storage';
import { ArtifactList, COMMON_ERROR_RESPONSES, problemResponse, ref } from '../schemas.ts';
import { parseRange } from '../range.ts';
import { findJob, JobIdParams } from './jobs.ts';

const PRESIGN_SECONDS = 300;
const MAX_EMBEDDED_BYTES = 8 * 1024 * 1024;

const ArtifactParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  name: Type.String({ maxLength: 400, description: 'An artifact name from the list (letters, digits, `_`, `.`, `-`).' }),
});

const DownloadQuery = Type.Object(
  { redirect: Type.Optional(StringEnum(['0', '1'], { description: '`1`: with S3 storage, answer 302 to a presigned URL.' })) },
  { additionalProperties: false },
);

const FileResponses = {
  200: Type.String({ description: 'The file.' }),
  206: Type.String({ description: 'The requested byte range.' }),
  302: Type.Null({ description: 'Redirect to a presigned URL (S3 storage, `?redirect=1`).' }),
  416: problemResponse('The range is outside the file (`RANGE_NOT_SATISFIABLE`); Content-Range gives the size.'),
  ...COMMON_ERROR_RESPONSES,
};

export const artifactRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { hifi } = app;

  async function serve(request: FastifyRequest, reply: FastifyReply, job: Job, name: string, redirect: boolean, missing: string): Promise<FastifyReply> {
    const artifact = job.artifacts.find((a) => a.name === name);
    if (!artifact) throw new HifiError('NOT_FOUND', missing, { param: 'name' });
    const key = storageKeys.artifact(job.id, name);
    const info = await hifi.objects.head(key);
    if (!info) throw new HifiError('NOT_FOUND', `artifact ${name} of job ${job.id} is recorded but missing from storage`, { param: 'name' });
    if (redirect && hifi.objects.kind === 's3') {
      const url = await hifi.objects.presignGet(key, PRESIGN_SECONDS);
      if (url) return reply.redirect(url, 302);
    }
    reply.header('accept-ranges', 'bytes');
    reply.header('content-type', artifact.contentType || info.contentType);
    reply.header('last-modified', info.lastModified.toUTCString());
    if (info.etag) reply.header('etag', info.etag);
    const range = parseRange(request.headers.range, info.size);
    if (range.kind === 'unsatisfiable') {
      throw new HifiError('RANGE_NOT_SATISFIABLE', `${request.headers.range} is outside ${name} (${info.size} bytes)`, {
        headers: { 'content-range': `bytes */${info.size}` },
      });
    }
    if (range.kind === 'range') {
      reply.code(206);
      reply.header('content-range', `bytes ${range.start}-${range.end}/${info.size}`);
      reply.header('content-length', String(range.end - range.start + 1));
      return reply.send(await hifi.objects.get(key, { start: range.start, end: range.end }));
    }
    reply.header('content-length', String(info.size));
    return reply.send(await hifi.objects.get(key));
  }

  /** A small JSON artifact, parsed; null when absent, too large or unreadable (logged). */
  async function readJsonArtifact(job: Job, name: string, request: FastifyRequest): Promise<Record<string, unknown> | null> {
    const artifact = job.artifacts.find((a) => a.name === name);
    if (!artifact) return null;
    if (artifact.size > MAX_EMBEDDED_BYTES) {
      request.log.warn({ jobId: job.id, name, size: artifact.size }, 'artifact too large to embed');
      return null;
    }
    try {
      const parsed: unknown = JSON.parse((await readObject(hifi.objects, storageKeys.artifact(job.id, name))).toString('utf8'));
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    } catch (err) {
      request.log.warn({ err, jobId: job.id, name }, 'could not read a JSON artifact');
      return null;
    }
  }

  app.get(
    '/jobs/:id/artifacts',
    { schema: { tags: ['artifacts'], summary: 'List a job’s artifacts', params: JobIdParams, response: { 200: ref(ArtifactList, 'ArtifactList', 'The artifacts, oldest first.'), ...COMMON_ERROR_RESPONSES } } },
    async (request) => ({ items: (await findJob(hifi.jobs, request.params.id, request.tenant)).artifacts }),
  );

  app.get(
    '/jobs/:id/artifacts/:name',
    {
      schema: {
        tags: ['artifacts'],
        summary: 'Download an artifact',
        description: 'Supports a single `Range: bytes=…` (206, or 416 when unsatisfiable). With S3 storage, `?redirect=1` answers 302 to a presigned URL valid for 5 minutes.',
        params: ArtifactParams,
        querystring: DownloadQuery,
        produces: ['application/octet-stream'],
        response: FileResponses,
      },
    },
    async (request, reply) => {
      const { id, name } = request.params;
      if (!isArtifactName(name)) {
        throw new HifiError('INVALID_ARTIFACT_NAME', `artifact name ${JSON.stringify(name)} is not allowed: use a name from the artifact list (no slashes or ..)`, { param: 'name' });
      }
      const job = await findJob(hifi.jobs, id, request.tenant);
      return serve(request, reply, job, name, request.query.redirect === '1', `job ${job.id} has no artifact ${name}`);
    },
  );

  app.get(
    '/jobs/:id/heads',
    {
      schema: {
        tags: ['artifacts'],
        summary: 'The head report (JSON)',
        description: 'Per-head scores, the selected heads and why; written by the worker after the analysis stage.',
        params: JobIdParams,
        produces: ['application/json'],
        response: { 200: Type.Object({}, { additionalProperties: true, description: 'The head report.' }), 206: Type.String({ description: 'The requested byte range.' }), 416: FileResponses[416], ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      return serve(request, reply, job, WELL_KNOWN_ARTIFACTS.heads, false, `the head report of job ${job.id} is not available (job is ${job.status})`);
    },
  );

  app.get(
    '/jobs/:id/heads.svg',
    {
      schema: {
        tags: ['artifacts'],
        summary: 'The head selection figure (SVG)',
        params: JobIdParams,
        produces: ['image/svg+xml'],
        response: { 200: Type.String({ description: 'An SVG image.' }), 206: Type.String({ description: 'The requested byte range.' }), 416: FileResponses[416], ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      return serve(request, reply, job, WELL_KNOWN_ARTIFACTS.headsSvg, false, `the head figure of job ${job.id} is not available (job is ${job.status})`);
    },
  );

  app.get(
    '/jobs/:id/checkpoints',
    {
      schema: {
        tags: ['artifacts'],
        summary: 'List a job’s checkpoints',
        description: 'The artifacts of kind `checkpoint`, oldest first; download them from /artifacts/{name}.',
        params: JobIdParams,
        response: { 200: ref(ArtifactList, 'ArtifactList', 'The checkpoints, oldest first.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      return { items: job.artifacts.filter((a) => a.kind === 'checkpoint') };
    },
  );

  app.get(
    '/jobs/:id/metrics',
    {
      schema: {
        tags: ['artifacts'],
        summary: 'A job’s metrics',
        description: 'Metric points and the latest train/eval values: the final `metrics.json` once the job stored it (`final: true`), else built from the job’s `metrics` events. `report` embeds the trainer’s summary (`training-metrics.json`) when present.',
        params: JobIdParams,
        response: { 200: ref(JobMetrics, 'JobMetrics', 'Metric points and the latest values.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      const report = await readJsonArtifact(job, WELL_KNOWN_ARTIFACTS.trainingReport, request);
      const stored = check(JobMetrics, { ...(await readJsonArtifact(job, WELL_KNOWN_ARTIFACTS.metrics, request)), report });
      if (stored.ok) return { ...stored.value, jobId: job.id };
      const events: JobEvent[] = [];
      let after = 0;
      for (;;) {
        const page = await hifi.jobs.readEvents(job.id, { after, limit: 1000 });
        events.push(...page);
        if (page.length < 1000) break;
        after = page.at(-1)!.id;
      }
      return { ...metricsFromEvents(job.id, events), report };
    },
  );
};
