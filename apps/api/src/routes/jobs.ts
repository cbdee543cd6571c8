// /v1/jobs: submit, list, read, cancel and delete jobs. Tenants see only their own jobs (another tenant's id is
// a 404, as is an id that does not exist). When a route itself moves a job to a terminal state (a cancel while
// queued, a job that could not be queued) it queues the job's webhook, as the worker does for the others.
import { Type } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  enqueueJob,
  HifiError,
  isJobId,
  isTerminal,
  Job,
  JobSpecInput,
  JobStatus,
  removeQueuedJob,
  storageKeys,
  type Job as JobRecord,
  type JobStore,
} from '@hifi/jobs';
import { checkJobSpec } from '../job-submission.ts';
import { COMMON_ERROR_RESPONSES, JobPage, problemResponse, ref } from '../schemas.ts';
import type { Services } from '../services.ts';

export const JobIdParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'A job id (`job_…`).' }) });

const METADATA_QUERY = '^metadata\\.[A-Za-z0-9_.-]{1,64}$';

const ListQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'From `nextCursor` of the previous page.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    status: Type.Optional(JobStatus),
  },
  {
    // `metadata.KEY=VALUE` filters: any number, all must match.
    patternProperties: { [METADATA_QUERY]: Type.String({ maxLength: 512 }) },
    additionalProperties: false,
  },
);

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'Retries with the same key (within 24 h) return the job created first instead of a new one.',
    }),
  ),
});

/** The job of this tenant, or a 404 problem. */
export async function findJob(jobs: JobStore, id: string, tenant: string): Promise<JobRecord> {
  const job = isJobId(id) ? await jobs.get(id, { tenant }) : null;
  if (!job) throw new HifiError('NOT_FOUND', `job ${id} does not exist`, { param: 'id' });
  return job;
}

/**
 * Queues the webhook of a job this request moved to a terminal state (`job` read after the transition). The
 * transition has happened either way, so a failure is logged rather than answered.
 */
async function queueWebhook(hifi: Services, job: JobRecord, log: FastifyBaseLogger): Promise<void> {
  try {
    if (await hifi.queueTerminalWebhook(job)) log.info({ jobId: job.id, status: job.status }, 'webhook queued');
  } catch (err) {
    log.error({ err, jobId: job.id, status: job.status }, 'could not queue the webhook');
  }
}

export const jobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { hifi } = app;

  app.post(
    '/jobs',
    {
      config: {
        rateLimit: {
          max: hifi.config.rateLimitJobsPerMinute,
          timeWindow: 60_000,
          keyGenerator: (request) => `jobs:${request.tenant}`,
        },
      },
      schema: {
        tags: ['jobs'],
        summary: 'Submit a fine-tuning job',
        description: 'Validates the spec, stores the job as `queued` and puts it on the `cpu` or `gpu` queue. Job creation is rate limited per tenant.',
        headers: IdempotencyHeaders,
        body: ref(JobSpecInput, 'JobSpecInput'),
        response: {
          202: ref(Job, 'Job', 'The job, queued (or, for a repeated Idempotency-Key, as it is now; header Idempotent-Replayed: true).'),
          413: problemResponse('The body is too large (`PAYLOAD_TOO_LARGE`).'),
          415: problemResponse('The body is not JSON (`UNSUPPORTED_MEDIA`).'),
          422: problemResponse('`UNKNOWN_TASK`, `UNKNOWN_MODEL`, `MODEL_NOT_ALLOWED`, `INVALID_DATASET`, `WEBHOOK_URL_NOT_ALLOWED` or `IDEMPOTENCY_KEY_REUSED`.'),
          503: problemResponse('The queue is not available (`QUEUE_UNAVAILABLE`).'),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const tenant = request.tenant;
      const spec = await checkJobSpec(request.body, { tenant, config: hifi.config, datasets: hifi.datasets });
      const idempotencyKey = request.headers['idempotency-key'];
      const { job, created } = await hifi.jobs.create({ tenant, spec, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
      if (created || job.status === 'queued') {
        try {
          await enqueueJob(hifi.queue(job.spec.queue), job);
        } catch (err) {
          request.log.error({ err, jobId: job.id }, 'could not enqueue the job');
          if (created) {
            const failed = await hifi.jobs.updateStatus(job.id, 'failed', { error: { code: 'QUEUE_UNAVAILABLE', message: 'the job could not be queued' } }).catch(() => null);
            const record = failed?.changed ? await hifi.jobs.get(job.id).catch(() => null) : null;
            if (record) await queueWebhook(hifi, record, request.log);
          }
          throw new HifiError('QUEUE_UNAVAILABLE', 'the job could not be queued; try again', { cause: err });
        }
      }
      request.log.info({ jobId: job.id, tenant, created }, created ? 'job created' : 'idempotent replay');
      reply.header('location', `/v1/jobs/${job.id}`);
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(created ? job : ((await hifi.jobs.get(job.id)) ?? job));
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        description: 'Cursor pagination: pass `nextCursor` back as `cursor`. Filter with `status` and any number of `metadata.KEY=VALUE`.',
        querystring: ListQuery,
        response: { 200: ref(JobPage, 'JobPage', 'A page of jobs.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { cursor, limit, status, ...rest } = request.query as Record<string, string | number | undefined> & { cursor?: string; limit?: number; status?: JobRecord['status'] };
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(rest)) if (k.startsWith('metadata.') && typeof v === 'string') metadata[k.slice('metadata.'.length)] = v;
      return hifi.jobs.list(request.tenant, {
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit }),
        ...(status === undefined ? {} : { status }),
        metadata,
      });
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Get a job',
        params: JobIdParams,
        response: { 200: ref(Job, 'Job', 'The job.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => findJob(hifi.jobs, request.params.id, request.tenant),
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job',
        description:
          'A queued job is cancelled at once, removed from the queue and its `job.cancelled` webhook is sent (200). A running job gets `cancelRequested` and the worker is told over pub/sub; it stops at its next check and sends the webhook (202). Cancelling a cancelled job is a no-op (200); a succeeded or failed job is a 409.',
        params: JobIdParams,
        response: {
          200: ref(Job, 'Job', 'Cancelled (or already cancelled).'),
          202: ref(Job, 'Job', 'Cancellation requested; the worker will stop the job.'),
          409: problemResponse('The job already succeeded or failed (`CONFLICT`).'),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      const result = await hifi.jobs.requestCancel(job.id, { tenant: request.tenant });
      if (!result) throw new HifiError('NOT_FOUND', `job ${job.id} does not exist`, { param: 'id' });
      if (result.outcome === 'cancelled') {
        await removeQueuedJob(hifi.queue(result.job.spec.queue), job.id).catch((err: unknown) => request.log.warn({ err, jobId: job.id }, 'could not remove the BullMQ job'));
        await queueWebhook(hifi, result.job, request.log);
        return reply.code(200).send(result.job);
      }
      if (result.outcome === 'requested') return reply.code(202).send(result.job);
      if (result.job.status === 'cancelled') return reply.code(200).send(result.job);
      throw new HifiError('CONFLICT', `job ${job.id} already ${result.job.status}`, { param: 'id' });
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Delete a job with its events and artifacts',
        description: 'Allowed for queued (cancelled first, which sends the `job.cancelled` webhook) and finished jobs; a running job must be cancelled first (409).',
        params: JobIdParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), 409: problemResponse('The job is running (`CONFLICT`): cancel it first.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      let job = await findJob(hifi.jobs, request.params.id, request.tenant);
      if (job.status === 'queued') {
        const result = await hifi.jobs.requestCancel(job.id, { tenant: request.tenant });
        if (result?.outcome === 'cancelled') {
          await removeQueuedJob(hifi.queue(job.spec.queue), job.id).catch(() => false);
          await queueWebhook(hifi, result.job, request.log);
        }
        if (result) job = result.job;
      }
      if (!isTerminal(job.status)) throw new HifiError('CONFLICT', `job ${job.id} is ${job.status}; cancel it and wait for it to stop before deleting it`, { param: 'id' });
      await hifi.objects.deletePrefix(storageKeys.jobPrefix(job.id));
      await hifi.jobs.delete(job.id, request.tenant);
      request.log.info({ jobId: job.id }, 'job deleted');
      return reply.code(204).send(null);
    },
  );
};
