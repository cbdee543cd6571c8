import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobStore } from './job-store.ts';
import { JobSubscriber } from './job-subscriber.ts';
import { normaliseJobSpec, type JobSpec } from './job-spec.ts';
import { HifiError } from './errors.ts';
import { deleteTestKeys, testPrefix, useTestRedis } from './testing.ts';
import { enqueueJob, openQueue, removeQueuedJob } from './queues.ts';
import type { JobEvent } from './job-event.ts';

const { prefix, redis } = useTestRedis();

function spec(extra: Partial<JobSpec> = {}): JobSpec {
  return { ...normaliseJobSpec({ model: 'hf:org/tiny', task: 'glue:SST-2' }), ...extra };
}

test('create makes a queued job with a first status_changed event', async () => {
  const store = new JobStore({ redis, prefix });
  const { job, created } = await store.create({ tenant: 'acme', spec: spec() });
  assert.equal(created, true);
  assert.equal(job.status, 'queued');
  assert.equal(job.tenant, 'acme');
  assert.equal(job.cancelRequested, false);
  assert.equal(job.startedAt, null);
  assert.equal(job.lastEventId, 1);
  assert.deepEqual(job.spec, spec());
  const events = await store.readEvents(job.id);
  assert.equal(events.length, 1);
  assert.deepEqual({ id: events[0]!.id, type: events[0]!.type, data: events[0]!.data }, { id: 1, type: 'status_changed', data: { from: null, to: 'queued' } });
  assert.equal(await store.get(job.id, { tenant: 'other' }), null, 'another tenant does not see the job');
});

test('idempotency: same key and body returns the same job; another body is rejected; keys are per tenant', async () => {
  const store = new JobStore({ redis, prefix });
  const first = await store.create({ tenant: 'acme', spec: spec(), idempotencyKey: 'k-1' });
  const again = await store.create({ tenant: 'acme', spec: spec(), idempotencyKey: 'k-1' });
  assert.equal(again.created, false);
  assert.equal(again.job.id, first.job.id);
  await assert.rejects(store.create({ tenant: 'acme', spec: spec({ seed: 7 }), idempotencyKey: 'k-1' }), (err: unknown) => {
    assert.ok(err instanceof HifiError);
    assert.equal(err.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(err.statusCode, 422);
    return true;
  });
  const otherTenant = await store.create({ tenant: 'beta', spec: spec(), idempotencyKey: 'k-1' });
  assert.equal(otherTenant.created, true);
  assert.notEqual(otherTenant.job.id, first.job.id);
  // After a delete the key no longer points anywhere: the same request creates a new job.
  assert.equal(await store.delete(first.job.id, 'acme'), true);
  const fresh = await store.create({ tenant: 'acme', spec: spec(), idempotencyKey: 'k-1' });
  assert.equal(fresh.created, true);
  assert.notEqual(fresh.job.id, first.job.id);
});

test('updateStatus enforces the transition table; terminal states are final; counts follow', async () => {
  const store = new JobStore({ redis, prefix: testPrefixFor('status') });
  try {
    const { job } = await store.create({ tenant: 'acme', spec: spec() });
    assert.deepEqual(await store.updateStatus(job.id, 'analyzing'), { changed: true, from: 'queued' });
    assert.deepEqual(await store.updateStatus(job.id, 'analyzing'), { changed: false, from: 'analyzing' });
    await store.updateStatus(job.id, 'training');
    await assert.rejects(store.updateStatus(job.id, 'succeeded'), (e: unknown) => e instanceof HifiError && e.code === 'CONFLICT');
    const started = (await store.get(job.id))!;
    assert.ok(started.startedAt);
    assert.deepEqual(await store.countByStatus(), { queued: 0, analyzing: 0, training: 1, evaluating: 0, exporting: 0, succeeded: 0, failed: 0, cancelled: 0 });
    await store.updateStatus(job.id, 'failed', { error: { code: 'TRAINING_DIVERGED', message: 'loss is NaN at step 12' } });
    await assert.rejects(store.updateStatus(job.id, 'queued'), (e: unknown) => e instanceof HifiError && e.code === 'CONFLICT');
    const failed = (await store.get(job.id))!;
    assert.equal(failed.status, 'failed');
    assert.deepEqual(failed.error, { code: 'TRAINING_DIVERGED', message: 'loss is NaN at step 12' });
    assert.ok(failed.finishedAt);
    const types = (await store.readEvents(job.id)).map((e) => (e.type === 'status_changed' ? `${e.data.from}>${e.data.to}` : e.type));
    assert.deepEqual(types, ['null>queued', 'queued>analyzing', 'analyzing>training', 'error', 'training>failed']);
    assert.equal((await store.countByStatus()).failed, 1);
    await assert.rejects(store.updateStatus('job_0000000000000000000000', 'training'), (e: unknown) => e instanceof HifiError && e.code === 'NOT_FOUND');
  } finally {
    await deleteTestKeys(redis, store.keys.prefix);
  }
});

function testPrefixFor(_what: string): string {
  return testPrefix();
}

test('setProgress is throttled per job unless the stage changes; events ids increase by one', async () => {
  let now = 1_700_000_000_000;
  const store = new JobStore({ redis, prefix, progressThrottleMs: 1000, now: () => now });
  const { job } = await store.create({ tenant: 'acme', spec: spec() });
  await store.updateStatus(job.id, 'training');
  const p = { stage: 'training' as const, step: 1, totalSteps: 100, epoch: 0.01, metrics: { loss: 0.9 }, etaSeconds: 50 };
  assert.equal(await store.setProgress(job.id, p), true);
  now += 200;
  assert.equal(await store.setProgress(job.id, { ...p, step: 2 }), false, 'within the throttle window');
  now += 900;
  assert.equal(await store.setProgress(job.id, { ...p, step: 3 }), true);
  now += 10;
  assert.equal(await store.setProgress(job.id, { ...p, stage: 'evaluating', step: 3 }), true, 'a stage change always writes');
  const record = (await store.get(job.id))!;
  assert.equal(record.progress?.step, 3);
  assert.equal(record.progress?.stage, 'evaluating');
  await store.appendEvent(job.id, { type: 'log', data: { level: 'info', message: 'hello' } });
  await store.appendEvent(job.id, { type: 'metrics', data: { split: 'eval', step: 3, epoch: 0.03, values: { accuracy: 0.5 } } });
  const events = await store.readEvents(job.id);
  assert.deepEqual(events.map((e) => e.id), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(events.map((e) => e.type), ['status_changed', 'status_changed', 'progress', 'progress', 'progress', 'log', 'metrics']);
  const tail = await store.readEvents(job.id, { after: 5 });
  assert.deepEqual(tail.map((e) => e.id), [6, 7]);
  assert.deepEqual(tail[1]!.data, { split: 'eval', step: 3, epoch: 0.03, values: { accuracy: 0.5 } });
  assert.deepEqual(await store.readEvents(job.id, { after: 7 }), []);
});

test('requestCancel: queued is cancelled at once; running gets the flag and a message on the cancel channel', async () => {
  const store = new JobStore({ redis, prefix });
  const sub = new JobSubscriber({ connection: redis, prefix });
  try {
    const queued = (await store.create({ tenant: 'acme', spec: spec() })).job;
    assert.equal(await store.requestCancel(queued.id, { tenant: 'beta' }), null, 'other tenant');
    const r1 = await store.requestCancel(queued.id, { tenant: 'acme' });
    assert.equal(r1?.outcome, 'cancelled');
    assert.equal(r1?.job.status, 'cancelled');

    const running = (await store.create({ tenant: 'acme', spec: spec() })).job;
    await store.updateStatus(running.id, 'analyzing');
    const got: string[] = [];
    const live: JobEvent[] = [];
    const offCancel = await sub.onCancel((id) => got.push(id));
    const offEvents = await sub.onJobEvents(running.id, (e) => live.push(e));
    const r2 = await store.requestCancel(running.id);
    assert.equal(r2?.outcome, 'requested');
    assert.equal(r2?.job.status, 'analyzing');
    assert.equal(r2?.job.cancelRequested, true);
    assert.equal(await store.isCancelRequested(running.id), true);
    await waitFor(() => got.length === 1 && live.length === 1);
    assert.deepEqual(got, [running.id]);
    assert.equal(live[0]!.type, 'log');
    assert.equal(live[0]!.id, 3);
    await store.updateStatus(running.id, 'cancelled', { reason: 'stopped by the worker' });
    await waitFor(() => live.length === 2);
    assert.deepEqual(live[1]!.data, { from: 'analyzing', to: 'cancelled', reason: 'stopped by the worker' });
    const r3 = await store.requestCancel(running.id);
    assert.equal(r3?.outcome, 'terminal');
    await offCancel();
    await offEvents();
  } finally {
    await sub.close();
  }
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('list pages newest first with an exact cursor and filters on status and metadata', async () => {
  const store = new JobStore({ redis, prefix: testPrefix() });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { job } = await store.create({ tenant: 'acme', spec: spec({ metadata: { team: i % 2 === 0 ? 'red' : 'blue', n: String(i) } }) });
      ids.push(job.id);
    }
    await store.create({ tenant: 'beta', spec: spec() });
    await store.updateStatus(ids[1]!, 'analyzing');
    const newestFirst = [...ids].sort().reverse();
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list('acme', { limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen, newestFirst);
    const red = await store.list('acme', { metadata: { team: 'red' } });
    assert.deepEqual(red.items.map((j) => j.spec.metadata.n), ['6', '4', '2', '0']);
    assert.equal(red.nextCursor, null);
    const analyzing = await store.list('acme', { status: 'analyzing' });
    assert.deepEqual(analyzing.items.map((j) => j.id), [ids[1]]);
    const exact = await store.list('acme', { limit: 7 });
    assert.equal(exact.items.length, 7);
    assert.equal(exact.nextCursor, null, 'no cursor when the page ends exactly at the last job');
    await assert.rejects(store.list('acme', { cursor: 'bm9wZQ' }), (e: unknown) => e instanceof HifiError && e.code === 'INVALID_CURSOR');
  } finally {
    await deleteTestKeys(redis, store.keys.prefix);
  }
});

test('artifacts and delete: delete removes record, events, artifacts and index entry', async () => {
  const store = new JobStore({ redis, prefix });
  const { job } = await store.create({ tenant: 'acme', spec: spec() });
  const at = new Date().toISOString();
  await store.addArtifact(job.id, { name: 'heads.json', kind: 'report', size: 10, contentType: 'application/json', createdAt: at });
  await store.addArtifact(job.id, { name: 'heads.json', kind: 'report', size: 12, contentType: 'application/json', createdAt: at });
  const withArtifacts = (await store.get(job.id))!;
  assert.deepEqual(withArtifacts.artifacts.map((a) => [a.name, a.size]), [['heads.json', 12]]);
  assert.equal(await store.delete(job.id, 'beta'), false, 'another tenant cannot delete');
  assert.equal(await store.delete(job.id, 'acme'), true);
  assert.equal(await store.get(job.id), null);
  assert.equal(await redis.exists(store.keys.jobEvents(job.id), store.keys.jobArtifacts(job.id)), 0);
  assert.equal(await redis.zscore(store.keys.tenantJobs('acme'), job.id), null);
  assert.equal(await store.delete(job.id, 'acme'), false);
});

test('removeArtifact removes the record and appends an artifact_removed event atomically; unknown names change nothing', async () => {
  const store = new JobStore({ redis, prefix });
  const { job } = await store.create({ tenant: 'acme', spec: spec() });
  const at = new Date().toISOString();
  const checkpoint = (step: number) => ({ name: `checkpoint-step-${String(step).padStart(8, '0')}.zip`, kind: 'checkpoint' as const, size: 100 + step, contentType: 'application/zip', step, createdAt: at });
  await store.addArtifact(job.id, checkpoint(10));
  await store.addArtifact(job.id, checkpoint(20));
  assert.deepEqual((await store.artifactNames(job.id)).sort(), [checkpoint(10).name, checkpoint(20).name]);

  const live: JobEvent[] = [];
  const subscriber = new JobSubscriber({ connection: redis, prefix });
  const unsubscribe = await subscriber.onJobEvents(job.id, (e) => live.push(e));
  try {
    const before = await store.lastEventId(job.id);
    const eventId = await store.removeArtifact(job.id, checkpoint(10).name);
    assert.equal(eventId, before + 1, 'the next event id');
    const after = (await store.get(job.id))!;
    assert.deepEqual(after.artifacts.map((a) => a.name), [checkpoint(20).name]);
    assert.equal(after.lastEventId, eventId);
    const [event] = await store.readEvents(job.id, { after: before });
    assert.deepEqual({ id: event!.id, type: event!.type, data: event!.data }, { id: eventId, type: 'artifact_removed', data: { name: checkpoint(10).name } });

    // Removing it again, or a name never recorded, is a no-op without an event.
    assert.equal(await store.removeArtifact(job.id, checkpoint(10).name), 0);
    assert.equal(await store.removeArtifact(job.id, 'never-there.json'), 0);
    assert.equal(await store.lastEventId(job.id), eventId);
    // appendEvent with the same type goes through removeArtifact.
    assert.equal(await store.appendEvent(job.id, { type: 'artifact_removed', data: { name: checkpoint(20).name } }), eventId + 1);
    assert.deepEqual((await store.get(job.id))!.artifacts, []);

    const until = Date.now() + 2000;
    while (live.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(live.map((e) => [e.id, e.type, e.data]), [
      [eventId, 'artifact_removed', { name: checkpoint(10).name }],
      [eventId + 1, 'artifact_removed', { name: checkpoint(20).name }],
    ], 'published on the live channel like every other event');
  } finally {
    await unsubscribe();
    await subscriber.close();
  }

  await assert.rejects(store.removeArtifact(job.id, '../heads.json'), (e: unknown) => e instanceof HifiError && e.code === 'INVALID_ARTIFACT_NAME');
  await store.delete(job.id, 'acme');
  await assert.rejects(store.removeArtifact(job.id, checkpoint(20).name), (e: unknown) => e instanceof HifiError && e.code === 'NOT_FOUND');
});

test('enqueueJob uses the job id as BullMQ jobId; removeQueuedJob takes it out again', async () => {
  const store = new JobStore({ redis, prefix });
  const queue = openQueue('cpu', redis, prefix);
  try {
    const { job } = await store.create({ tenant: 'acme', spec: spec() });
    await enqueueJob(queue, job);
    await enqueueJob(queue, job);
    assert.equal(await queue.getWaitingCount(), 1, 'adding the same job id twice is a no-op');
    const bull = await queue.getJob(job.id);
    assert.deepEqual(bull?.data, { jobId: job.id, tenant: 'acme', schemaVersion: 1 });
    assert.equal(bull?.opts.attempts, 3);
    assert.equal(await removeQueuedJob(queue, job.id), true);
    assert.equal(await queue.getWaitingCount(), 0);
    assert.equal(await removeQueuedJob(queue, job.id), false);
    assert.ok((await redis.keys(`${prefix}:bull:finetune-cpu:*`)).length > 0, 'BullMQ keys live under the prefix');
  } finally {
    await queue.close();
  }
});
