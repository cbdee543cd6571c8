import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createStoreFromEnv } from './create-store.ts';
import { readObject } from './object-bytes.ts';
import { runObjectStoreSuite } from './object-store-suite.ts';
import { MIN_PART_SIZE_BYTES, S3Store } from './s3-store.ts';
import type { S3StoreOptions } from './s3-store.ts';
import { startTestS3Server } from './s3-test-server.ts';
import type { TestS3Server } from './s3-test-server.ts';

let server: TestS3Server;
before(async () => { server = await startTestS3Server(); });
after(async () => { await server?.close(); });

/** A store on the test server: path-style, 5 MiB parts (so ~12 MB objects take 3 parts), 2 keys per list page. */
function storeOptions(overrides: Partial<S3StoreOptions> = {}): S3StoreOptions {
  return {
    bucket: server.bucket,
    prefix: 'hifi/artifacts',
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: server.credentials,
    partSizeBytes: MIN_PART_SIZE_BYTES,
    listPageSize: 2,
    ...overrides,
  };
}

runObjectStoreSuite('S3Store (s3rver)', async () => new S3Store(storeOptions()), { presignedUrls: true });
runObjectStoreSuite('S3Store (s3rver, bucket root)', async () => new S3Store(storeOptions({ prefix: '', listPageSize: 1000 })), { presignedUrls: true });

describe('S3Store on S3', () => {
  it('uploads a 12 MiB object in several 5 MiB parts, and small ones in one request', async () => {
    const store = new S3Store(storeOptions());
    const commands: string[] = [];
    store.client.middlewareStack.add((next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    }, { step: 'initialize', name: 'recordCommands' });
    try {
      const body = randomBytes(12 * 1024 * 1024);
      await store.put('multipart/big.bin', body);
      assert.equal(commands.filter((name) => name === 'CreateMultipartUploadCommand').length, 1);
      assert.equal(commands.filter((name) => name === 'UploadPartCommand').length, 3, 'ceil(12 MiB / 5 MiB) parts');
      assert.equal(commands.filter((name) => name === 'CompleteMultipartUploadCommand').length, 1);
      assert.ok((await readObject(store, 'multipart/big.bin')).equals(body));
      commands.length = 0;
      await store.put('multipart/small.bin', randomBytes(1000));
      assert.deepEqual(commands, ['PutObjectCommand']);
    } finally {
      await store.deletePrefix('multipart');
      await store.close();
    }
  });

  it('keeps objects under its prefix in the bucket, invisible to a store with another prefix', async () => {
    const a = new S3Store(storeOptions({ prefix: 'tenant-a' }));
    const b = new S3Store(storeOptions({ prefix: 'tenant-b/' }));
    const root = new S3Store(storeOptions({ prefix: '' }));
    try {
      await a.put('x.txt', Buffer.from('a'));
      assert.equal(await b.head('x.txt'), null);
      assert.deepEqual((await b.list('')).map((item) => item.key), []);
      assert.equal((await readObject(root, 'tenant-a/x.txt')).toString(), 'a');
      assert.equal(a.location, `s3://${server.bucket}/tenant-a`);
      assert.equal(b.location, `s3://${server.bucket}/tenant-b`);
    } finally {
      await root.deletePrefix('tenant-a');
      await Promise.all([a.close(), b.close(), root.close()]);
    }
  });

  it('ping() fails with STORAGE_UNAVAILABLE for a missing bucket or an unreachable endpoint', async () => {
    const missing = new S3Store(storeOptions({ bucket: 'no-such-bucket-here' }));
    const unreachable = new S3Store(storeOptions({ endpoint: 'http://127.0.0.1:9' }));
    try {
      await assert.rejects(missing.ping(), { name: 'StorageUnavailableError', code: 'STORAGE_UNAVAILABLE', message: /no-such-bucket-here.*HTTP 404/ });
      await assert.rejects(unreachable.ping(), { name: 'StorageUnavailableError', code: 'STORAGE_UNAVAILABLE' });
    } finally {
      await Promise.all([missing.close(), unreachable.close()]);
    }
  });

  it('is what HIFI_STORAGE=s3://bucket/prefix with the AWS variables builds', async () => {
    const store = createStoreFromEnv({
      HIFI_STORAGE: `s3://${server.bucket}/from-env/`,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_REGION: server.region,
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    });
    const root = new S3Store(storeOptions({ prefix: '' }));
    try {
      await store.ping();
      await store.put('hello.txt', Buffer.from('hi'), { contentType: 'text/plain' });
      assert.equal((await readObject(root, 'from-env/hello.txt')).toString(), 'hi');
      const url = await store.presignGet('hello.txt', 30);
      assert.equal(await (await fetch(url ?? '')).text(), 'hi');
    } finally {
      await root.deletePrefix('from-env');
      await Promise.all([store.close(), root.close()]);
    }
  });

  it('rejects bad options with the option named', () => {
    assert.throws(() => new S3Store(storeOptions({ bucket: 'Bad_Bucket' })), { code: 'INVALID_STORAGE_CONFIG', message: /^bucket:/ });
    assert.throws(() => new S3Store(storeOptions({ partSizeBytes: 1024 })), { code: 'INVALID_STORAGE_CONFIG', message: /^partSizeBytes:/ });
    assert.throws(() => new S3Store(storeOptions({ prefix: '../up' })), { code: 'INVALID_KEY' });
  });
});
