// The startup check of every process that needs Redis (the API, the worker, `npm start`): one PING, and when it gets
// no answer, one clear line on stderr (where, and how to start Redis) and exit code 1 instead of a stack trace or
// an endless reconnect loop.
import { Redis } from 'ioredis';

/** `url` with its credentials (`user:password@`) replaced by `***@`, for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Whether a Redis server answers PING at `url`: one attempt, at most about 2 s to connect; never throws. */
export async function redisReachable(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** The line `processName` prints when Redis does not answer at `url`. */
export function redisUnreachableMessage(processName: string, url: string): string {
  return `${processName}: Redis is not reachable at ${redactRedisUrl(url)}; start it (e.g. \`redis-server --daemonize yes\` or \`docker run -p 6379:6379 redis:7\`) or set REDIS_URL`;
}

/** Returns when Redis answers at `url`; otherwise prints redisUnreachableMessage to stderr and exits with code 1. */
export async function exitUnlessRedisReachable(processName: string, url: string): Promise<void> {
  if (await redisReachable(url)) return;
  console.error(redisUnreachableMessage(processName, url));
  process.exit(1);
}
