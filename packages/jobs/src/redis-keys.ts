// Every Redis key and channel used by the API and the worker, built in one place from a configurable prefix
// (the idea of BullMQ's queue-keys.ts). Builders check their ids so that nothing user-supplied can smuggle a
// `:` or a glob character into a key.
import { isDatasetId, isJobId, isTenant } from './ids.ts';

export const DEFAULT_REDIS_PREFIX = 'hifi';
const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function check(ok: boolean, what: string, value: string): string {
  if (!ok) throw new TypeError(`invalid ${what} for a Redis key: ${JSON.stringify(value)}`);
  return value;
}

export function redisKeys(prefix: string = DEFAULT_REDIS_PREFIX) {
  check(PREFIX_RE.test(prefix), 'prefix', prefix);
  const job = (id: string) => `${prefix}:job:${check(isJobId(id), 'job id', id)}`;
  return {
    prefix,
    /** Hash: the job's state of record (JobStore). */
    job,
    /** Stream: the job's events, trimmed to a MAXLEN retention. */
    jobEvents: (id: string) => `${job(id)}:events`,
    /** Hash: artifact name → Artifact JSON. */
    jobArtifacts: (id: string) => `${job(id)}:artifacts`,
    /** Pub/sub channel: every appended event of one job, as JSON (for SSE). */
    jobLiveChannel: (id: string) => `${job(id)}:live`,
    /** Sorted set: the tenant's job ids scored by creation time in ms (cursor pagination). */
    tenantJobs: (tenant: string) => `${prefix}:tenant:${check(isTenant(tenant), 'tenant', tenant)}:jobs`,
    /** Sorted set: the tenant's dataset ids scored by creation time in ms. */
    tenantDatasets: (tenant: string) => `${prefix}:tenant:${check(isTenant(tenant), 'tenant', tenant)}:datasets`,
    /** String with TTL: `jobId bodySha256` for an Idempotency-Key (hashed) of a tenant. */
    idempotency: (tenant: string, keySha256: string) =>
      `${prefix}:idem:${check(isTenant(tenant), 'tenant', tenant)}:${check(/^[0-9a-f]{64}$/.test(keySha256), 'key hash', keySha256)}`,
    /** Hash: the dataset record. */
    dataset: (id: string) => `${prefix}:dataset:${check(isDatasetId(id), 'dataset id', id)}`,
    /** String: the tenant owning an API key, by sha256 of the key (keys managed in Redis rather than config). */
    apiKey: (keySha256: string) => `${prefix}:apikey:${check(/^[0-9a-f]{64}$/.test(keySha256), 'key hash', keySha256)}`,
    /** Hash: status → number of jobs currently in it (kept exact by the JobStore scripts). */
    jobCountsByStatus: `${prefix}:stats:jobs-by-status`,
    /** Pub/sub channel: job ids whose cancellation was requested while running. */
    cancelChannel: `${prefix}:cancel`,
    /** Key namespace for @fastify/rate-limit's Redis store. */
    rateLimitNamespace: `${prefix}:ratelimit:`,
    /** BullMQ `prefix` option: BullMQ's own keys live under `${prefix}:bull:<queue>:…`. */
    bullPrefix: `${prefix}:bull`,
    /** SCAN pattern matching every key above (for test cleanup and tooling). */
    everything: `${prefix}:*`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
