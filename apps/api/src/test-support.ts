// Test support for the API suites: a real app listening on 127.0.0.1:0, real Redis under a fresh
// `hifi-test-<uuid>` prefix (only those keys are deleted afterwards) and an FsStore in a temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { JobStore } from '@hifi/jobs';
import { deleteTestKeys, testPrefix } from '@hifi/jobs/testing.ts';
import { FsStore, type ObjectStore } from '@hifi/storage';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

export const KEYS = { acme: 'acme-secret-key', beta: 'beta-secret-key' } as const;

export interface TestApi {
  app: FastifyInstance;
  url: string;
  prefix: string;
  redis: Redis;
  /** The same JobStore the worker would use, to simulate it. */
  jobs: JobStore;
  objects: ObjectStore;
  dataDir: string;
  /** fetch against the API with tenant acme's key unless `auth` says otherwise (`null` = no header). */
  call(path: string, init?: RequestInit & { auth?: keyof typeof KEYS | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** `opts.objects` replaces the temp-dir FsStore (e.g. an S3Store on s3rver); the caller closes it. */
export async function startApi(env: Record<string, string> = {}, opts: { objects?: ObjectStore } = {}): Promise<TestApi> {
  const prefix = testPrefix();
  const dataDir = await mkdtemp(join(tmpdir(), 'hifi-api-test-'));
  const config = loadConfig({
    HIFI_REDIS_PREFIX: prefix,
    HIFI_DATA_DIR: dataDir,
    HIFI_API_KEYS: `acme:${KEYS.acme},beta:${KEYS.beta}`,
    LOG_LEVEL: 'silent',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...env,
  });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  const objects = opts.objects ?? new FsStore(dataDir);
  const app = await buildApp({ config, redis, objects, processMetrics: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const jobs = new JobStore({ redis, prefix });
  return {
    app,
    url,
    prefix,
    redis,
    jobs,
    objects,
    dataDir,
    call(path, init = {}) {
      const { auth = 'acme', json, headers, ...rest } = init;
      const h = new Headers(headers);
      if (auth !== null) h.set('authorization', `Bearer ${KEYS[auth]}`);
      if (json !== undefined) h.set('content-type', 'application/json');
      return fetch(`${url}${path}`, { ...rest, headers: h, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    async close() {
      await app.close();
      await deleteTestKeys(redis, prefix);
      await redis.quit();
      if (!opts.objects) await objects.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A minimal valid job body. */
export function jobBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'hf:prajjwal1/bert-tiny', task: 'glue:SST-2', ...extra };
}

/** Reads an SSE response until it ends (or `max` events), returning the events in order. */
export async function readSse(res: Response, max = Infinity): Promise<{ id: number; event: string; data: unknown }[]> {
  const out: { id: number; event: string; data: unknown }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let sep: number;
    while ((sep = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, sep);
      buffer = buffer.slice(sep + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const i = line.indexOf(':');
        fields[line.slice(0, i)] = line.slice(i + 1).trimStart();
      }
      if (fields.data === undefined) continue;
      out.push({ id: Number(fields.id), event: fields.event ?? 'message', data: JSON.parse(fields.data) });
      if (out.length >= max) {
        await reader.cancel();
        return out;
      }
    }
  }
  return out;
}
