// Liveness and readiness, without authentication.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HifiError } from '@hifi/jobs';
import { problemResponse } from '../schemas.ts';

const CHECK_TIMEOUT_MS = 2000;

async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Redis and object storage answer',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), checks: Type.Object({ redis: Type.Literal('ok'), storage: Type.Literal('ok') }) }),
          503: problemResponse('Redis or storage does not answer (`NOT_READY`); `detail` says which.'),
        },
      },
    },
    async (request) => {
      const failures: string[] = [];
      const [redis, storage] = await Promise.allSettled([
        within('Redis', CHECK_TIMEOUT_MS, app.hifi.redis.ping()),
        within('object storage', CHECK_TIMEOUT_MS, app.hifi.objects.ping()),
      ]);
      if (redis.status === 'rejected') failures.push(`Redis (${app.hifi.config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')}): ${(redis.reason as Error).message}`);
      if (storage.status === 'rejected') failures.push(`storage (${app.hifi.objects.location}): ${(storage.reason as Error).message}`);
      if (failures.length > 0) {
        request.log.warn({ failures }, 'not ready');
        throw new HifiError('NOT_READY', `not ready: ${failures.join('; ')}`);
      }
      return { status: 'ready' as const, checks: { redis: 'ok' as const, storage: 'ok' as const } };
    },
  );
};
