// Test helpers (imported as '@hifi/jobs/testing.ts', not re-exported from index.ts): a unique key prefix per
// test file and removal of exactly the keys under it — never FLUSHALL.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

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
