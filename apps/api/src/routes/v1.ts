// The authenticated API under /v1: one scope with the auth hook and the rate limiter (used by POST /v1/jobs).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import rateLimit from '@fastify/rate-limit';
import { HifiError } from '@hifi/jobs';
import { authPlugin } from '../plugins/auth.ts';
import { jobRoutes } from './jobs.ts';
import { eventRoutes } from './events.ts';
import { artifactRoutes } from './artifacts.ts';
import { datasetRoutes } from './datasets.ts';

export const v1Routes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(authPlugin);
  await app.register(rateLimit, {
    global: false,
    redis: app.hifi.redis,
    nameSpace: app.hifi.keys.rateLimitNamespace,
    // After authentication (onRequest) so that the key is the tenant, before the body is validated so that
    // invalid submissions count too.
    hook: 'preValidation',
    errorResponseBuilder: (_request, context) =>
      new HifiError('RATE_LIMITED', `at most ${context.max} job submissions per minute; retry in ${context.after}`),
  });
  await app.register(jobRoutes);
  await app.register(eventRoutes);
  await app.register(artifactRoutes);
  await app.register(datasetRoutes);
};
