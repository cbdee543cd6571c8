// A job's events: a page at a time (`?after=` cursor) or as a Server-Sent Events stream that can be resumed
// with `Last-Event-ID`.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HifiError, isTerminal } from '@hifi/jobs';
import { COMMON_ERROR_RESPONSES, JobEventPage, ref } from '../schemas.ts';
import { JobEventStream } from '../sse.ts';
import { findJob, JobIdParams } from './jobs.ts';

const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Return events with an id greater than this.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

const StreamQuery = Type.Object(
  { after: Type.Optional(Type.Integer({ minimum: 0, description: 'Start after this event id (the Last-Event-ID header wins).' })) },
  { additionalProperties: false },
);

const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 20, description: 'Resume after this event id (sent by EventSource on reconnect).' })),
});

export const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { hifi } = app;
  const streams = new Set<JobEventStream>();
  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => {
    for (const s of [...streams]) s.close();
  });

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Read a job’s events',
        description: 'Events in id order. Ids increase by one per event; old events beyond the retention window are dropped.',
        params: JobIdParams,
        querystring: EventsQuery,
        response: { 200: ref(JobEventPage, 'JobEventPage', 'A page of events.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      const after = request.query.after ?? 0;
      const items = await hifi.jobs.readEvents(job.id, { after, limit: request.query.limit ?? 100 });
      const nextAfter = items.at(-1)?.id ?? after;
      return { items, nextAfter, done: isTerminal(job.status) && nextAfter >= job.lastEventId };
    },
  );

  app.get(
    '/jobs/:id/events/stream',
    {
      schema: {
        tags: ['events'],
        summary: 'Stream a job’s events (Server-Sent Events)',
        description:
          'Each event is sent as `id: <event id>`, `event: <type>`, `data: <JobEvent JSON>`. Reconnect with `Last-Event-ID` to resume. Comment lines are heartbeats. The stream ends after the status event that makes the job terminal.',
        params: JobIdParams,
        querystring: StreamQuery,
        headers: StreamHeaders,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'A text/event-stream of JobEvent.' }), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const job = await findJob(hifi.jobs, request.params.id, request.tenant);
      const header = request.headers['last-event-id'];
      let after = request.query.after ?? 0;
      if (header !== undefined && header !== '') {
        if (!/^\d{1,15}$/.test(header)) throw new HifiError('VALIDATION_FAILED', 'Last-Event-ID must be an event id (a non-negative integer)', { param: 'Last-Event-ID' });
        after = Number(header);
      }
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': String(request.id),
      });
      const stream = new JobEventStream(reply.raw, hifi.jobs, job.id, after, request.log);
      streams.add(stream);
      stream.whenClosed(() => streams.delete(stream));
      try {
        await stream.start(hifi.subscriber, hifi.config.sseHeartbeatSeconds * 1000);
      } catch (err) {
        request.log.warn({ err, jobId: job.id }, 'could not start the SSE stream');
        stream.close();
      }
    },
  );
};
