// @hifi/storage: object storage for job artifacts behind one interface (ObjectStore), on the filesystem (FsStore)
// or S3 (S3Store), with atomic artifact sets. The shared conformance suite and the s3rver test server are test
// helpers, imported by path (`@hifi/storage/object-store-suite.ts`, `@hifi/storage/s3-test-server.ts`) so that
// production code does not load node:test or s3rver.
export { InvalidRangeError, NotFoundError, StorageConfigError, StorageKeyError, StorageUnavailableError } from './errors.ts';
export { compareKeys, isUnderPrefix, joinKey, MAX_KEY_BYTES, normalizePrefix, RESERVED_SEGMENT_PREFIX, validateKey } from './object-key.ts';
export { checkPresignExpiry, checkRangeShape, contentTypeOf, DEFAULT_CONTENT_TYPE, MAX_PRESIGN_SECONDS, resolveRange } from './object-store.ts';
export type { ByteRange, ListedObject, ObjectBody, ObjectInfo, ObjectStore, PutOptions, PutResult } from './object-store.ts';
export { FsStore } from './fs-store.ts';
export { DEFAULT_PART_SIZE_BYTES, MIN_PART_SIZE_BYTES, S3Store } from './s3-store.ts';
export type { S3Credentials, S3StoreOptions } from './s3-store.ts';
export { removeAbandonedTemps, tempPrefixFor, writeArtifactsAtomically } from './atomic-artifacts.ts';
export type { ArtifactWriter } from './atomic-artifacts.ts';
export { createStore, createStoreFromEnv, parseS3Url, storageConfigFromEnv } from './create-store.ts';
export type { StorageConfig } from './create-store.ts';
export { readObject } from './object-bytes.ts';
export { mapWithConcurrency } from './map-with-concurrency.ts';
