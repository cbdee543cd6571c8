// Prometheus metrics at GET /metrics (text exposition format, via prom-client on a registry of this app):
// request latency by route, jobs by status (from the JobStore's exact counters) and queue depth per queue.
import fp from 'fastify-plugin';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JOB_STATUSES, QUEUE_NAMES } from '@hifi/jobs';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

export const metricsPlugin = fp(
  async (app, opts: { defaultMetrics?: boolean }) => {
    const registry = new Registry();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'hifi_api_' });

    const latency = new Histogram({
      name: 'hifi_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });

    new Gauge({
      name: 'hifi_jobs',
      help: 'Jobs currently in each status (all tenants).',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const counts = await app.hifi.jobs.countByStatus();
        for (const status of JOB_STATUSES) this.set({ status }, counts[status]);
      },
    });

    new Gauge({
      name: 'hifi_queue_jobs',
      help: 'BullMQ jobs per queue and state (waiting + prioritized + delayed is the backlog).',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        for (const { kind, queue } of app.hifi.allQueues()) {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.set({ queue: QUEUE_NAMES[kind], state }, counts[state] ?? 0);
        }
      },
    });

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern (not the URL) keeps label cardinality bounded; unmatched requests share one label.
      const route = request.routeOptions.url ?? 'unmatched';
      latency.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics (text exposition format)',
          produces: ['text/plain'],
          response: { 200: { type: 'string', description: 'Prometheus text format 0.0.4.' } },
        },
      },
      async (_request, reply) => {
        const text = await registry.metrics();
        return reply.type(registry.contentType).send(text);
      },
    );
  },
  { name: 'hifi-metrics', fastify: '5.x', decorators: { fastify: ['hifi'] } },
);
