import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { redactRedisUrl, redisReachable, redisUnreachableMessage } from './redis-probe.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Port 1 on loopback: nothing listens there, so the connection is refused at once.
const NOBODY = 'redis://user:s3cret@127.0.0.1:1';

test('redactRedisUrl hides credentials and leaves other URLs alone', () => {
  assert.equal(redactRedisUrl('rediss://user:pw@cache.example:6380/2'), 'rediss://***@cache.example:6380/2');
  assert.equal(redactRedisUrl('redis://:pw@10.0.0.5'), 'redis://***@10.0.0.5');
  assert.equal(redactRedisUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
});

test('redisReachable: true when Redis answers PING, false (not a throw) when nothing listens', async () => {
  assert.equal(await redisReachable(REDIS_URL), true);
  assert.equal(await redisReachable(NOBODY), false);
});

test('exitUnlessRedisReachable: one line on stderr naming the process and the redacted URL, exit code 1', () => {
  const script = `import { exitUnlessRedisReachable } from ${JSON.stringify(new URL('./redis-probe.ts', import.meta.url).href)};
await exitUnlessRedisReachable('hifi-probe-test', ${JSON.stringify(NOBODY)});
console.log('not reached');`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.status, 1, child.stderr);
  assert.equal(child.stdout, '');
  assert.equal(child.stderr, `${redisUnreachableMessage('hifi-probe-test', NOBODY)}\n`);
  assert.match(child.stderr, /^hifi-probe-test: Redis is not reachable at redis:\/\/\*\*\*@127\.0\.0\.1:1; start it .* or set REDIS_URL\n$/);
  assert.doesNotMatch(child.stderr, /s3cret/);
});
