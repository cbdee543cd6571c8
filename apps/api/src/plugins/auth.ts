// Bearer-key authentication for the scope it is registered in (the /v1 routes). The key's sha256 is looked up
// in the configured keys, then in Redis; the tenant is put on the request. Missing or unknown key → 401.
import fp from 'fastify-plugin';
import { HifiError } from '@hifi/jobs';
import { sha256Hex } from '../api-keys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated tenant ('' before authentication). */
    tenant: string;
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

export const authPlugin = fp(
  async (app) => {
    app.decorateRequest('tenant', '');
    app.addHook('onRequest', async (request) => {
      const header = request.headers.authorization;
      const challenge = { 'WWW-Authenticate': 'Bearer realm="hifi"' };
      if (header === undefined) throw new HifiError('UNAUTHORIZED', 'send the API key as "Authorization: Bearer <key>"', { headers: challenge });
      const m = BEARER.exec(header);
      if (!m) throw new HifiError('UNAUTHORIZED', 'the Authorization header must be "Bearer <key>"', { headers: challenge });
      const hash = sha256Hex(m[1]!);
      const tenant = app.hifi.apiKeyHashes.get(hash) ?? (await app.hifi.redis.get(app.hifi.keys.apiKey(hash)));
      if (!tenant) throw new HifiError('UNAUTHORIZED', 'the API key is not valid', { headers: challenge });
      request.tenant = tenant;
    });
  },
  { name: 'hifi-auth', fastify: '5.x', decorators: { fastify: ['hifi'] } },
);
