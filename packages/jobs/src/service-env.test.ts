import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { envDirs, envFlag, envInteger, envString, ServiceConfigError, serviceSettingsFromEnv } from './service-env.ts';

const names = (variable: string) => (err: unknown) => err instanceof ServiceConfigError && err.variable === variable && err.message.startsWith(`${variable}: `);

test('readers: blank is unset; integers in range, flags and absolute directories, or an error naming the variable', () => {
  assert.equal(envString({ A: '  x ' }, 'A'), 'x');
  assert.equal(envString({ A: '   ' }, 'A'), undefined);
  assert.equal(envInteger({}, 'N', 7, 0, 10), 7);
  assert.equal(envInteger({ N: ' 10 ' }, 'N', 7, 0, 10), 10);
  for (const bad of ['11', '-1', '2.5', 'ten']) assert.throws(() => envInteger({ N: bad }, 'N', 7, 0, 10), names('N'), bad);
  for (const v of ['1', 'TRUE', 'yes', 'On']) assert.equal(envFlag({ F: v }, 'F', false), true, v);
  for (const v of ['0', 'False', 'no', 'OFF']) assert.equal(envFlag({ F: v }, 'F', true), false, v);
  assert.equal(envFlag({ F: '' }, 'F', true), true);
  assert.throws(() => envFlag({ F: 'maybe' }, 'F', false), (err: unknown) => names('F')(err) && /"maybe"/.test((err as Error).message));
  assert.deepEqual(envDirs({ D: '/a/b/../c, /d' }, 'D'), [resolve('/a/c'), resolve('/d')]);
  assert.deepEqual(envDirs({}, 'D'), []);
  assert.throws(() => envDirs({ D: '/a,rel' }, 'D'), names('D'));
});

test('serviceSettingsFromEnv: defaults, and each bad shared variable is named once in the message', () => {
  const s = serviceSettingsFromEnv({});
  assert.deepEqual(
    { ...s, storage: s.storage.kind },
    { redisUrl: 'redis://127.0.0.1:6379', redisPrefix: 'hifi', storage: 'fs', modelDirs: [], glueDir: null, logLevel: 'info', webhookAllowPrivate: false },
  );
  assert.equal(serviceSettingsFromEnv({ GLUE_DIR: 'glue' }).glueDir, resolve('glue'));
  const bad: [Record<string, string>, string][] = [
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ HIFI_REDIS_PREFIX: 'a:b' }, 'HIFI_REDIS_PREFIX'],
    [{ HIFI_STORAGE: 'ftp://x' }, 'HIFI_STORAGE'],
    [{ HIFI_MODEL_DIRS: 'models' }, 'HIFI_MODEL_DIRS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HIFI_WEBHOOK_ALLOW_PRIVATE: 'sometimes' }, 'HIFI_WEBHOOK_ALLOW_PRIVATE'],
  ];
  for (const [env, variable] of bad) {
    assert.throws(() => serviceSettingsFromEnv(env), (err: unknown) => names(variable)(err) && !(err as Error).message.startsWith(`${variable}: ${variable}`), JSON.stringify(env));
  }
});
