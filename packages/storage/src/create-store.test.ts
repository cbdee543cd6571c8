import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { createStore, parseS3Url, storageConfigFromEnv } from './create-store.ts';
import { FsStore } from './fs-store.ts';
import { S3Store } from './s3-store.ts';

describe('storage configuration from the environment', () => {
  it('defaults to the filesystem under ./data, or HIFI_DATA_DIR', () => {
    assert.deepEqual(storageConfigFromEnv({}), { kind: 'fs', dataDir: resolve('data') });
    assert.deepEqual(storageConfigFromEnv({ HIFI_STORAGE: 'fs', HIFI_DATA_DIR: '/var/lib/hifi' }), { kind: 'fs', dataDir: '/var/lib/hifi' });
    assert.deepEqual(storageConfigFromEnv({ HIFI_STORAGE: ' ', HIFI_DATA_DIR: 'rel/dir' }), { kind: 'fs', dataDir: resolve('rel/dir') });
  });

  it('reads s3://bucket/prefix and the AWS variables', () => {
    const config = storageConfigFromEnv({
      HIFI_STORAGE: 's3://hifi-artifacts/prod/v1/',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9000',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'SECRET',
      AWS_SESSION_TOKEN: 'TOKEN',
      HIFI_S3_PART_SIZE_MB: '16',
    });
    assert.deepEqual(config, {
      kind: 's3',
      bucket: 'hifi-artifacts',
      prefix: 'prod/v1',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' },
      partSizeBytes: 16 * 1024 * 1024,
    });
  });

  it('leaves credentials to the SDK chain when no key pair is set, and path style off for AWS itself', () => {
    const config = storageConfigFromEnv({ HIFI_STORAGE: 's3://bucket-1', AWS_DEFAULT_REGION: 'us-west-2' });
    assert.deepEqual(config, { kind: 's3', bucket: 'bucket-1', prefix: '', region: 'us-west-2', forcePathStyle: false });
    assert.equal((storageConfigFromEnv({ HIFI_STORAGE: 's3://bucket-1', AWS_ENDPOINT_URL: 'https://minio.local', HIFI_S3_FORCE_PATH_STYLE: 'false' }) as { forcePathStyle: boolean }).forcePathStyle, false);
    assert.equal((storageConfigFromEnv({ HIFI_STORAGE: 's3://bucket-1', HIFI_S3_FORCE_PATH_STYLE: '1' }) as { forcePathStyle: boolean }).forcePathStyle, true);
    assert.equal((storageConfigFromEnv({ HIFI_STORAGE: 's3://bucket-1', AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://b:2' }) as { endpoint: string }).endpoint, 'http://b:2');
  });

  it('names the bad variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ HIFI_STORAGE: 'gcs://bucket' }, /^HIFI_STORAGE: .*neither "fs" nor/],
      [{ HIFI_STORAGE: 's3://' }, /^HIFI_STORAGE: /],
      [{ HIFI_STORAGE: 's3://Upper_Case' }, /^HIFI_STORAGE: .*not a valid S3 bucket name/],
      [{ HIFI_STORAGE: 's3://bucket/../x' }, /^HIFI_STORAGE: prefix of/],
      [{ HIFI_STORAGE: 's3://bucket/a//b' }, /^HIFI_STORAGE: prefix of/],
      [{ HIFI_STORAGE: 's3://bucket', AWS_ENDPOINT_URL: 'not a url' }, /^AWS_ENDPOINT_URL: .*not a URL/],
      [{ HIFI_STORAGE: 's3://bucket', AWS_ENDPOINT_URL: 'ftp://x' }, /^AWS_ENDPOINT_URL: .*http/],
      [{ HIFI_STORAGE: 's3://bucket', HIFI_S3_FORCE_PATH_STYLE: 'maybe' }, /^HIFI_S3_FORCE_PATH_STYLE: /],
      [{ HIFI_STORAGE: 's3://bucket', AWS_ACCESS_KEY_ID: 'AKID' }, /^AWS_SECRET_ACCESS_KEY: .*together/],
      [{ HIFI_STORAGE: 's3://bucket', AWS_SECRET_ACCESS_KEY: 'S' }, /^AWS_ACCESS_KEY_ID: .*together/],
      [{ HIFI_STORAGE: 's3://bucket', HIFI_S3_PART_SIZE_MB: '4' }, /^HIFI_S3_PART_SIZE_MB: .*≥ 5/],
      [{ HIFI_STORAGE: 's3://bucket', HIFI_S3_PART_SIZE_MB: 'big' }, /^HIFI_S3_PART_SIZE_MB: /],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => storageConfigFromEnv(env), { name: 'StorageConfigError', code: 'INVALID_STORAGE_CONFIG', message }, JSON.stringify(env));
    }
    assert.deepEqual(parseS3Url('X', 's3://my.bucket-2/a/b'), { bucket: 'my.bucket-2', prefix: 'a/b' });
  });

  it('creates the configured backend without making a request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hifi-create-store-'));
    try {
      const fsStore = createStore(storageConfigFromEnv({ HIFI_DATA_DIR: dir }));
      assert.ok(fsStore instanceof FsStore);
      assert.equal(fsStore.location, `fs:${dir}`);
      await fsStore.ping();
      const s3Store = createStore(storageConfigFromEnv({ HIFI_STORAGE: 's3://bucket-1/p', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }));
      assert.ok(s3Store instanceof S3Store);
      assert.equal(s3Store.location, 's3://bucket-1/p');
      await s3Store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
