import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { loadApiKeyHashes, parseApiKeysFile, sha256Hex } from './api-keys.ts';
import { startApi } from './test-support.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('loadConfig: defaults', () => {
  const c = loadConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(c.redisPrefix, 'hifi');
  assert.equal(c.storage.kind, 'fs');
  assert.deepEqual(c.modelDirs, []);
  assert.equal(c.glueDir, null);
  assert.equal(c.maxUploadBytes, 100 * 1024 * 1024);
  assert.equal(c.rateLimitJobsPerMinute, 60);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.webhookAllowPrivate, false);
  assert.equal(loadConfig({ HIFI_WEBHOOK_ALLOW_PRIVATE: '1' }).webhookAllowPrivate, true);
  assert.equal(loadConfig({ HIFI_WEBHOOK_ALLOW_PRIVATE: 'false' }).webhookAllowPrivate, false);
});

test('loadConfig: each bad value names its variable', () => {
  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ HIFI_REDIS_PREFIX: 'has space' }, 'HIFI_REDIS_PREFIX'],
    [{ HIFI_MODEL_DIRS: 'relative/dir' }, 'HIFI_MODEL_DIRS'],
    [{ HIFI_API_KEYS: 'nokey' }, 'HIFI_API_KEYS'],
    [{ HIFI_API_KEYS: 'acme:short' }, 'HIFI_API_KEYS'],
    [{ HIFI_MAX_UPLOAD_BYTES: '0' }, 'HIFI_MAX_UPLOAD_BYTES'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HIFI_WEBHOOK_ALLOW_PRIVATE: 'maybe' }, 'HIFI_WEBHOOK_ALLOW_PRIVATE'],
    [{ HIFI_STORAGE: 'ftp://x' }, 'HIFI_STORAGE'],
  ];
  for (const [env, variable] of bad) {
    assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(`${variable}: `), JSON.stringify(env));
  }
  const ok = loadConfig({ HIFI_MODEL_DIRS: '/models/a:/models/b,/models/c', HIFI_API_KEYS: 'acme:12345678, beta:abcdefgh' });
  assert.deepEqual(ok.modelDirs, ['/models/a', '/models/b', '/models/c']);
  assert.deepEqual(ok.apiKeys, [{ tenant: 'acme', key: '12345678' }, { tenant: 'beta', key: 'abcdefgh' }]);
});

test('API keys file: lines or a JSON array of tenant:sha256hex; bad entries are reported by number', () => {
  const h = sha256Hex('prod-key-1');
  assert.deepEqual([...parseApiKeysFile(`# comment\nacme:${h}\n\n`, 'keys.txt')], [[h, 'acme']]);
  assert.deepEqual([...parseApiKeysFile(JSON.stringify([`beta:${h.toUpperCase()}`]), 'keys.json')], [[h, 'beta']]);
  assert.throws(() => parseApiKeysFile(`acme:${h}\nacme:plain-key`, 'keys.txt'), /entry 2 must be tenant:sha256hex/);
  assert.throws(() => parseApiKeysFile('[1, 2]', 'keys.json'), /array of "tenant:sha256hex" strings/);
  assert.throws(() => loadApiKeyHashes({ apiKeys: [], apiKeysFile: '/nonexistent/keys' }), /HIFI_API_KEYS_FILE: cannot read/);
});

test('keys from HIFI_API_KEYS_FILE and from Redis authenticate their tenants', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-keys-'));
  dirs.push(dir);
  const file = join(dir, 'keys.txt');
  await writeFile(file, `gamma:${sha256Hex('gamma-production-key')}\n`);
  const api = await startApi({ HIFI_API_KEYS_FILE: file });
  try {
    const fromFile = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: 'Bearer gamma-production-key' } });
    assert.equal(fromFile.status, 200);
    await api.redis.set(api.jobs.keys.apiKey(sha256Hex('delta-key-in-redis')), 'delta');
    const fromRedis = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: 'Bearer delta-key-in-redis' } });
    assert.equal(fromRedis.status, 200);
    const plainHashAsKey = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: `Bearer ${sha256Hex('gamma-production-key')}` } });
    assert.equal(plainHashAsKey.status, 401, 'the stored hash is not itself a key');
  } finally {
    await api.close();
  }
});
