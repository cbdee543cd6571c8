import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadWorkerConfig, WorkerConfigError } from './config.ts';

test('HIFI_WEBHOOK_ALLOW_PRIVATE: off by default, 1/true/yes/on and 0/false/no/off, anything else names the variable', () => {
  assert.equal(loadWorkerConfig({}).webhookAllowPrivate, false);
  for (const v of ['1', 'true', 'YES', 'on']) assert.equal(loadWorkerConfig({ HIFI_WEBHOOK_ALLOW_PRIVATE: v }).webhookAllowPrivate, true, v);
  for (const v of ['0', 'false', 'No', 'off', '']) assert.equal(loadWorkerConfig({ HIFI_WEBHOOK_ALLOW_PRIVATE: v }).webhookAllowPrivate, false, v);
  assert.throws(() => loadWorkerConfig({ HIFI_WEBHOOK_ALLOW_PRIVATE: 'maybe' }), (err: unknown) => err instanceof WorkerConfigError && err.variable === 'HIFI_WEBHOOK_ALLOW_PRIVATE' && /"maybe"/.test(err.message));
});
