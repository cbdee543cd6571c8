// Choosing and configuring the backend from the environment, in one place:
//   HIFI_STORAGE=fs (default)              → FsStore(HIFI_DATA_DIR, default ./data)
//   HIFI_STORAGE=s3://bucket[/prefix]      → S3Store, with AWS_ENDPOINT_URL(_S3), AWS_REGION (or AWS_DEFAULT_REGION),
//                                            AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN),
//                                            HIFI_S3_FORCE_PATH_STYLE, HIFI_S3_PART_SIZE_MB
import { resolve } from 'node:path';
import { StorageConfigError } from './errors.ts';
import { FsStore } from './fs-store.ts';
import { normalizePrefix } from './object-key.ts';
import type { ObjectStore } from './object-store.ts';
import { MIN_PART_SIZE_BYTES, S3Store } from './s3-store.ts';
import type { S3StoreOptions } from './s3-store.ts';

export type StorageConfig =
  | { kind: 'fs'; dataDir: string }
  | ({ kind: 's3' } & Omit<S3StoreOptions, 'client'>);

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function parseBoolean(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new StorageConfigError(name, `${JSON.stringify(value)} is not a boolean (use true or false)`);
}

/** Parses `s3://bucket[/prefix]`. */
export function parseS3Url(setting: string, url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (match === null) throw new StorageConfigError(setting, `${JSON.stringify(url)} is not of the form s3://bucket/prefix`);
  const bucket = match[1] ?? '';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new StorageConfigError(setting, `${JSON.stringify(bucket)} is not a valid S3 bucket name (3–63 lowercase letters, digits, '.', '-')`);
  }
  let prefix: string;
  try {
    prefix = normalizePrefix(match[2] ?? '', { allowEmpty: true });
  } catch (error) {
    throw new StorageConfigError(setting, `prefix of ${JSON.stringify(url)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { bucket, prefix };
}

/** Reads the storage settings from `env` (default: process.env); throws StorageConfigError naming the bad variable. */
export function storageConfigFromEnv(env: Env = process.env): StorageConfig {
  const storage = nonEmpty(env, 'HIFI_STORAGE') ?? 'fs';
  if (storage === 'fs') return { kind: 'fs', dataDir: resolve(nonEmpty(env, 'HIFI_DATA_DIR') ?? 'data') };
  if (!storage.startsWith('s3://')) throw new StorageConfigError('HIFI_STORAGE', `${JSON.stringify(storage)} is neither "fs" nor an s3://bucket/prefix URL`);
  const { bucket, prefix } = parseS3Url('HIFI_STORAGE', storage);

  const endpointName = nonEmpty(env, 'AWS_ENDPOINT_URL_S3') === undefined ? 'AWS_ENDPOINT_URL' : 'AWS_ENDPOINT_URL_S3';
  const endpoint = nonEmpty(env, endpointName);
  if (endpoint !== undefined) {
    let protocol: string;
    try {
      protocol = new URL(endpoint).protocol;
    } catch {
      throw new StorageConfigError(endpointName, `${JSON.stringify(endpoint)} is not a URL`);
    }
    if (protocol !== 'http:' && protocol !== 'https:') throw new StorageConfigError(endpointName, `${JSON.stringify(endpoint)} must be an http:// or https:// URL`);
  }
  const pathStyle = nonEmpty(env, 'HIFI_S3_FORCE_PATH_STYLE');
  // Custom endpoints (MinIO, s3rver, …) nearly always want path-style addressing; AWS itself wants virtual hosts.
  const forcePathStyle = pathStyle === undefined ? endpoint !== undefined : parseBoolean('HIFI_S3_FORCE_PATH_STYLE', pathStyle);

  const accessKeyId = nonEmpty(env, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = nonEmpty(env, 'AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new StorageConfigError(accessKeyId === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY', 'must be set together with the other half of the key pair');
  }
  const sessionToken = nonEmpty(env, 'AWS_SESSION_TOKEN');

  const partSizeMb = nonEmpty(env, 'HIFI_S3_PART_SIZE_MB');
  let partSizeBytes: number | undefined;
  if (partSizeMb !== undefined) {
    const mb = Number(partSizeMb);
    if (!Number.isInteger(mb) || mb * 1024 * 1024 < MIN_PART_SIZE_BYTES) throw new StorageConfigError('HIFI_S3_PART_SIZE_MB', `${JSON.stringify(partSizeMb)} must be an integer ≥ 5 (S3's minimum part size)`);
    partSizeBytes = mb * 1024 * 1024;
  }

  return {
    kind: 's3',
    bucket,
    prefix,
    region: nonEmpty(env, 'AWS_REGION') ?? nonEmpty(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1',
    ...(endpoint === undefined ? {} : { endpoint }),
    forcePathStyle,
    // Without a key pair in `env`, the SDK's default chain (profiles, instance or task roles) finds credentials.
    ...(accessKeyId === undefined || secretAccessKey === undefined ? {} : { credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) } }),
    ...(partSizeBytes === undefined ? {} : { partSizeBytes }),
  };
}

/** The store a config describes. Makes no request; call ping() to check that it can be reached. */
export function createStore(config: StorageConfig): ObjectStore {
  if (config.kind === 'fs') return new FsStore(config.dataDir);
  const { kind: _kind, ...options } = config;
  return new S3Store(options);
}

/** createStore(storageConfigFromEnv(env)). */
export function createStoreFromEnv(env: Env = process.env): ObjectStore {
  return createStore(storageConfigFromEnv(env));
}
