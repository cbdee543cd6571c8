// Test helpers (imported as '@hifi/jobs/testing.ts', not re-exported from index.ts): a unique key prefix per
// test file and removal of exactly the keys under it — never FLUSHALL.
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';

export function testPrefix(): string {
  return `hifi-test-${randomUUID()}`;
}

/** Deletes every key under `${prefix}:` (SCAN + UNLINK). Refuses prefixes that are not test prefixes. */
export async function deleteTestKeys(redis: Redis, prefix: string): Promise<number> {
  if (!/^hifi-test-[0-9a-f-]{36}$/.test(prefix)) throw new Error(`refusing to delete keys of non-test prefix ${prefix}`);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * One Redis connection and one fresh key prefix for a test file: connects before the first test, and after the last
 * deletes exactly the keys under the prefix and closes the connection.
 */
export function useTestRedis(url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'): { prefix: string; redis: Redis } {
  const prefix = testPrefix();
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  before(() => redis.connect());
  after(async () => {
    await deleteTestKeys(redis, prefix);
    await redis.quit();
  });
  return { prefix, redis };
}
