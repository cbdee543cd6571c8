// End to end on S3 storage (s3rver in a child process): the API and the worker share a bucket; the base model
// itself comes from the bucket (model: s3://bucket/models/tiny-bert); artifacts are stored under the configured
// prefix, downloadable through the API, and presigned with ?redirect=1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Store } from '@hifi/storage';
import { startTestS3Server, type TestS3Server } from '@hifi/storage/s3-test-server.ts';
import { E2E, TINY_BERT, tinyJob } from './helpers/e2e.ts';

let s3: TestS3Server;
let e2e: E2E;
before(async () => {
  s3 = await startTestS3Server();
  e2e = await E2E.start({
    storageEnv: {
      HIFI_STORAGE: `s3://${s3.bucket}/hifi`,
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    },
  });
  await e2e.startWorker();
});
after(async () => {
  await e2e?.close();
  await s3?.close();
});

test('a job with S3 storage and a model from the bucket succeeds; artifacts live in the bucket', async () => {
  // The model folder, uploaded outside the store's prefix.
  const raw = new S3Store({ bucket: s3.bucket, prefix: '', region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
  try {
    for (const f of await readdir(TINY_BERT)) await raw.put(`models/tiny-bert/${f}`, await readFile(join(TINY_BERT, f)));

    const job = await e2e.submit(tinyJob({ model: `s3://${s3.bucket}/models/tiny-bert` }));
    const done = await e2e.waitForEnd(job.id, 90_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));

    const stored = (await raw.list(`hifi/jobs/${job.id}/artifacts`)).map((o) => o.key.split('/').at(-1)).sort();
    assert.deepEqual(stored, done.artifacts.map((a) => a.name).sort());
    const temps = (await raw.list(`hifi/jobs/${job.id}`)).filter((o) => o.key.includes('.tmp-'));
    assert.deepEqual(temps, [], 'no temp objects are left');

    const mask = JSON.parse((await e2e.download(job.id, 'head_mask.json')).toString()) as { selected: unknown[] };
    assert.equal(mask.selected.length, 4);
    const headsArtifact = done.artifacts.find((a) => a.name === 'heads.safetensors')!;
    assert.equal((await e2e.download(job.id, 'heads.safetensors')).length, headsArtifact.size);

    const redirect = await fetch(`${e2e.baseUrl}/v1/jobs/${job.id}/artifacts/heads.safetensors?redirect=1`, {
      headers: { authorization: 'Bearer e2e-test-key-0123' },
      redirect: 'manual',
    });
    assert.equal(redirect.status, 302);
    const presigned = await fetch(redirect.headers.get('location')!);
    assert.equal(presigned.status, 200);
    assert.equal((await presigned.arrayBuffer()).byteLength, headsArtifact.size);
  } finally {
    await raw.close();
  }
});
