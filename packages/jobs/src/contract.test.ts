import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HYPERPARAMETER_DEFAULTS, JobSpec, JobSpecInput, normaliseJobSpec } from './job-spec.ts';
import { parseModelSource } from './model-source.ts';
import { redisKeys } from './redis-keys.ts';
import { canTransition, JOB_STATUSES, TERMINAL_STATUSES } from './job-status.ts';
import { ERROR_CATALOGUE, HifiError, problemType, UnrecoverableJobError } from './errors.ts';
import { check } from './validate.ts';
import { findGlueTask } from './glue-tasks.ts';
import { isJobId, newJobId } from './ids.ts';
import { storageKeys } from './storage-keys.ts';
import { JobEvent } from './job-event.ts';
import { UnrecoverableError } from 'bullmq';

test('normaliseJobSpec fills every default and the result passes the JobSpec schema', () => {
  const input = { model: 'hf:org/name@v1', task: 'glue:sst2' };
  assert.equal(check(JobSpecInput, input).ok, true);
  const spec = normaliseJobSpec(input);
  assert.deepEqual(spec.budget, { perLayer: 3 });
  assert.equal(spec.strategy, 'hifi');
  assert.equal(spec.queue, 'cpu');
  assert.equal(spec.seed, 42);
  assert.equal(spec.webhookUrl, null);
  assert.equal(spec.hyperparameters.epochs, HYPERPARAMETER_DEFAULTS.epochs);
  assert.equal(spec.hyperparameters.maxSteps, null);
  assert.equal(spec.hyperparameters.learningRate, HYPERPARAMETER_DEFAULTS.learningRate);
  assert.equal(check(JobSpec, spec).ok, true);
  const bySteps = normaliseJobSpec({ ...input, hyperparameters: { maxSteps: 50 } });
  assert.equal(bySteps.hyperparameters.epochs, null, 'maxSteps alone means no epoch limit');
  assert.equal(bySteps.hyperparameters.maxSteps, 50);
});

test('JobSpecInput rejects unknown fields, wrong types and budgets with two forms, naming the path', () => {
  const bad = check(JobSpecInput, { model: 'hf:a/b', task: 'glue:RTE', hyperparameters: { batchSize: 'big' } });
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.errors.some((e) => e.path === '/hyperparameters/batchSize'));
  assert.equal(check(JobSpecInput, { model: 'hf:a/b', task: 'glue:RTE', budget: { perLayer: 2, total: 4 } }).ok, false);
  assert.equal(check(JobSpecInput, { model: 'hf:a/b', task: 'glue:RTE', lr: 1 }).ok, false);
  assert.equal(check(JobSpecInput, { model: 'hf:a/b', task: { datasetId: 'ds_0000000001aaaaaaaaaaaa' } }).ok, true);
});

test('parseModelSource recognises the four forms and rejects the rest', () => {
  assert.deepEqual(parseModelSource('hf:google/bert-base@main'), { ok: true, source: { kind: 'hf', repo: 'google/bert-base', revision: 'main' } });
  assert.deepEqual(parseModelSource('hf:bert-base-uncased'), { ok: true, source: { kind: 'hf', repo: 'bert-base-uncased', revision: null } });
  assert.deepEqual(parseModelSource('s3://models-bucket/bert/mini'), { ok: true, source: { kind: 's3', bucket: 'models-bucket', key: 'bert/mini' } });
  assert.deepEqual(parseModelSource('bert-mini-hifi'), { ok: true, source: { kind: 'registered', id: 'bert-mini-hifi' } });
  assert.deepEqual(parseModelSource('/models/x/../y'), { ok: true, source: { kind: 'local', path: '/models/y' } });
  for (const bad of ['hf:../etc', 'hf:a/b/c', 's3://B/key', 's3://bucket/../x', 'relative/path', 'ftp://x', 'a..b', '']) {
    assert.equal(parseModelSource(bad).ok, false, bad);
  }
});

test('redisKeys builds every key from the prefix and refuses ids that could escape their key', () => {
  const k = redisKeys('hifi');
  const id = newJobId();
  assert.ok(isJobId(id));
  assert.equal(k.job(id), `hifi:job:${id}`);
  assert.equal(k.jobEvents(id), `hifi:job:${id}:events`);
  assert.equal(k.tenantJobs('acme'), 'hifi:tenant:acme:jobs');
  assert.equal(k.cancelChannel, 'hifi:cancel');
  assert.throws(() => k.job('job_x:*'), /invalid job id/);
  assert.throws(() => k.tenantJobs('a:b'), /invalid tenant/);
  assert.throws(() => redisKeys('bad prefix'), /invalid prefix/);
  assert.equal(storageKeys.artifact(id, 'heads.json'), `jobs/${id}/artifacts/heads.json`);
  assert.throws(() => storageKeys.artifact(id, '../x'), /invalid artifact name/);
});

test('job ids created in the same millisecond still increase', () => {
  const ids = Array.from({ length: 50 }, () => newJobId(1_800_000_000_000));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, 50);
});

test('transitions: terminal states are final, the happy path is allowed', () => {
  for (const t of TERMINAL_STATUSES) for (const s of JOB_STATUSES) assert.equal(canTransition(t, s), false, `${t} -> ${s}`);
  const path = ['queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded'] as const;
  for (let i = 1; i < path.length; i++) assert.equal(canTransition(path[i - 1]!, path[i]!), true);
  assert.equal(canTransition('queued', 'succeeded'), false);
  assert.equal(canTransition('training', 'queued'), true, 'a retried job goes back to queued');
});

test('errors carry catalogue status and title; UnrecoverableJobError is a BullMQ UnrecoverableError', () => {
  const e = new HifiError('UNKNOWN_TASK', 'glue:FOO is not a GLUE task', { param: 'task' });
  assert.equal(e.statusCode, 422);
  assert.equal(e.title, ERROR_CATALOGUE.UNKNOWN_TASK.title);
  assert.equal(problemType('UNKNOWN_TASK'), 'urn:problem-type:hifi:unknown-task');
  const u = new UnrecoverableJobError('MODEL_LOAD_FAILED', 'config.json missing', 'model');
  assert.ok(u instanceof UnrecoverableError);
  assert.deepEqual(u.toJobError(), { code: 'MODEL_LOAD_FAILED', message: 'config.json missing', param: 'model' });
});

test('GLUE names are matched without case or hyphens; events validate against the union', () => {
  assert.equal(findGlueTask('sst2')?.name, 'SST-2');
  assert.equal(findGlueTask('STS-B')?.numLabels, 1);
  assert.equal(findGlueTask('FOO'), null);
  const ok = check(JobEvent, { id: 3, jobId: 'j', type: 'log', at: '2024-01-01T00:00:00Z', data: { level: 'info', message: 'm' } });
  assert.equal(ok.ok, true);
  const wrong = check(JobEvent, { id: 3, jobId: 'j', type: 'log', at: '2024-01-01T00:00:00Z', data: { to: 'queued' } });
  assert.equal(wrong.ok, false);
});
