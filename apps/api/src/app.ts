// buildApp(opts): the HiFi REST API as a Fastify instance, ready to `listen` (server.ts) or to be tested.
// Scopes: the problem handler, services, metrics and OpenAPI are global (fastify-plugin); /healthz, /readyz and
// /metrics need no key; everything under /v1 is authenticated.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Redis } from 'ioredis';
import { createStore, type ObjectStore } from '@hifi/storage';
import type { ApiConfig } from './config.ts';
import { loadApiKeyHashes } from './api-keys.ts';
import { Services } from './services.ts';
import { registerSharedSchemas } from './schemas.ts';
import { installValidators } from './validation.ts';
import { problemPlugin } from './plugins/problem.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { healthRoutes } from './routes/health.ts';
import { v1Routes } from './routes/v1.ts';

declare module 'fastify' {
  interface FastifyInstance {
    hifi: Services;
  }
}

export interface BuildAppOptions {
  config: ApiConfig;
  /** A Redis client to use; the app does not close it. Default: one made from config.redisUrl, closed with the app. */
  redis?: Redis;
  /** Object storage to use; the app does not close it. Default: from config.storage, closed with the app. */
  objects?: ObjectStore;
  /** Fastify logger settings; default pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
  /** Also export Node process metrics (CPU, memory, event loop) at /metrics. Default true. */
  processMetrics?: boolean;
}

export const API_VERSION = '1.0.0';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function createRedis(url: string): Redis {
  // Fail fast rather than queue while Redis is away: a request errors (500/503) instead of hanging.
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: config.bodyLimitBytes,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    // A well-formed X-Request-Id from a proxy is kept, anything else replaced.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Open SSE streams are ended in a preClose hook; everything else may finish.
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();

  const redis = opts.redis ?? createRedis(config.redisUrl);
  redis.on('error', (err: Error) => app.log.warn({ err: err.message }, 'Redis connection error'));
  const objects = opts.objects ?? createStore(config.storage);
  const services = new Services(config, redis, objects, loadApiKeyHashes(config));
  if (services.apiKeyHashes.size === 0) app.log.warn('no API keys configured (HIFI_API_KEYS / HIFI_API_KEYS_FILE): only keys stored in Redis are accepted');
  app.decorate('hifi', services);
  app.addHook('onClose', async () => {
    await services.close();
    if (!opts.redis) {
      if (redis.status === 'wait') redis.disconnect();
      else await redis.quit().catch(() => redis.disconnect());
    }
    if (!opts.objects) await objects.close();
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', String(request.id));
  });

  installValidators(app);
  registerSharedSchemas(app);
  await app.register(problemPlugin);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'HiFi fine-tuning API',
        version: API_VERSION,
        description:
          'Fine-tune only the most important attention heads of BERT/RoBERTa models (HiFi, Gui & Xiao, ACL 2023). ' +
          'Errors are RFC 9457 problem details (application/problem+json) with a stable `code`.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key.' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'jobs', description: 'Submit and manage fine-tuning jobs' },
        { name: 'events', description: 'Job events, paged or streamed' },
        { name: 'artifacts', description: 'Head reports, metrics, checkpoints and other outputs' },
        { name: 'datasets', description: 'Custom training data' },
        { name: 'operations', description: 'Health, readiness and metrics (no key needed)' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(metricsPlugin, { defaultMetrics: opts.processMetrics ?? true });
  await app.register(healthRoutes);
  await app.register(v1Routes, { prefix: '/v1' });
  return app;
}
