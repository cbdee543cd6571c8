// The checkpoint sink over object storage, as the trainer uses it when it rotates checkpoints out: a write is one
// zip artifact with its record; a delete removes the record through JobStore.removeArtifact (with its
// `artifact_removed` event) and then the object. Real Redis (own prefix) and a FsStore in a temp dir.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { JobStore, normaliseJobSpec, storageKeys } from '@hifi/jobs';
import { deleteTestKeys, testPrefix } from '@hifi/jobs/testing.ts';
import { FsStore } from '@hifi/storage';
import { ArtifactLedger } from './artifacts.ts';
import { checkpointArtifactName, ObjectStoreCheckpointSink } from './object-store-checkpoint-sink.ts';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = testPrefix();
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await deleteTestKeys(redis, prefix);
  await redis.quit();
});

test('delete of a checkpoint removes its record (artifact_removed event) and its object; the others stay', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-sink-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const store = new FsStore(join(dir, 'objects'));
  cleanups.push(() => store.close());
  const jobs = new JobStore({ redis, prefix });
  const { job } = await jobs.create({ tenant: 'acme', spec: normaliseJobSpec({ model: 'tiny-bert', task: 'glue:SST-2' }) });
  const sink = new ObjectStoreCheckpointSink({ store, ledger: new ArtifactLedger(jobs, job.id), tmpDir: dir });
  const state = (step: number) => new Map([['state.json', new TextEncoder().encode(JSON.stringify({ step }))]]);

  await sink.write('step-00000010', state(10));
  await sink.write('step-00000020', state(20));
  assert.deepEqual(await sink.list(), ['step-00000010', 'step-00000020']);
  assert.deepEqual((await jobs.get(job.id))!.artifacts.map((a) => [a.name, a.step]), [
    [checkpointArtifactName('step-00000010'), 10],
    [checkpointArtifactName('step-00000020'), 20],
  ]);
  const before = await jobs.lastEventId(job.id);

  await sink.delete('step-00000010');
  const after = (await jobs.get(job.id))!;
  assert.deepEqual(after.artifacts.map((a) => a.name), [checkpointArtifactName('step-00000020')]);
  assert.deepEqual(await sink.list(), ['step-00000020']);
  assert.equal(await sink.read('step-00000010'), null);
  assert.equal(await store.head(storageKeys.artifact(job.id, checkpointArtifactName('step-00000010'))), null, 'the object is gone');
  const events = await jobs.readEvents(job.id, { after: before });
  assert.deepEqual(events.map((e) => [e.type, e.data]), [['artifact_removed', { name: checkpointArtifactName('step-00000010') }]]);
  const kept = await sink.read('step-00000020');
  assert.equal(new TextDecoder().decode(kept!.get('state.json')), JSON.stringify({ step: 20 }));

  // Deleting a checkpoint that is already gone is not an error and adds no event (CheckpointSink.delete contract).
  await sink.delete('step-00000010');
  assert.equal(await jobs.lastEventId(job.id), after.lastEventId);
});
