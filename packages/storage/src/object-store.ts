// The one interface every storage backend implements (FsStore, S3Store), plus the small pieces of its contract that
// do not depend on a backend: the body types, the default content type and how an HTTP-style byte range is checked.
import type { Readable } from 'node:stream';
import { InvalidRangeError } from './errors.ts';

/** What can be stored: bytes in memory, or a stream (read once, to the end). */
export type ObjectBody = Buffer | Uint8Array | Readable;

export interface PutOptions {
  /** MIME type given back by head() and by presigned downloads; DEFAULT_CONTENT_TYPE when absent. */
  contentType?: string;
}

export interface PutResult {
  /** Bytes stored. */
  size: number;
  /** Quoted entity tag, as an HTTP ETag header wants it (S3's MD5-based tag, or FsStore's inode/size/mtime tag). */
  etag?: string;
}

/** Inclusive byte offsets, as in an HTTP `Range: bytes=start-end` header; `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface ObjectInfo {
  size: number;
  contentType: string;
  etag?: string;
  lastModified: Date;
}

export interface ListedObject {
  key: string;
  size: number;
  etag?: string;
  lastModified: Date;
}

/**
 * Keys are '/'-separated relative paths (see object-key.ts); a prefix names a folder: `list('a/b')` returns the
 * objects under `a/b/`, never `a/bc` nor `a/b` itself. Every method rejects a bad key with StorageKeyError (code
 * INVALID_KEY) before touching the backend; get/copy/rename of a missing object reject with NotFoundError (NOT_FOUND).
 * A single put() is atomic on both backends: a reader sees the old object or the whole new one, never a part.
 */
export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** Where the objects live, for logs: `fs:/var/lib/hifi` or `s3://bucket/prefix`. Never holds a secret. */
  readonly location: string;
  put(key: string, body: ObjectBody, options?: PutOptions): Promise<PutResult>;
  /** A stream of the object's bytes, or of `range` of them; InvalidRangeError if the range cannot be served. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** The object's metadata, or null if there is no object at `key`. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Removes every object under the folder `prefix` (which must not be empty) and returns how many there were. */
  deletePrefix(prefix: string): Promise<number>;
  /** Every object under the folder `prefix` ('' = the whole store), in byte order of the keys; pages internally. */
  list(prefix: string): Promise<ListedObject[]>;
  /** Copies one object (content type included), replacing whatever was at `to`. */
  copy(from: string, to: string): Promise<void>;
  /** Moves one object, replacing whatever was at `to`. */
  rename(from: string, to: string): Promise<void>;
  /**
   * Moves every object under `from` to the same relative key under `to`, replacing what was under `to` (objects of
   * the old set that are not in the new one are removed). Returns how many objects moved. FsStore renames the
   * folder (atomic); S3Store copies each object, then deletes the stale ones and the sources. Every object under
   * `to` is always complete. The folders must not overlap.
   */
  promotePrefix(from: string, to: string): Promise<number>;
  /** A URL that downloads the object without credentials for `expiresSec` seconds, or null if the backend has none (fs). */
  presignGet(key: string, expiresSec: number): Promise<string | null>;
  /** Resolves if the store can be used (readiness probe); rejects with StorageUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Releases connections. The store must not be used afterwards. */
  close(): Promise<void>;
}

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The content type to store: the given one (checked to be a single header-safe line) or the default. */
export function contentTypeOf(options: PutOptions | undefined): string {
  const contentType = options?.contentType;
  if (contentType === undefined) return DEFAULT_CONTENT_TYPE;
  if (typeof contentType !== 'string' || contentType.trim() === '' || contentType.length > 255 || /[\u0000-\u001f\u007f]/.test(contentType)) {
    throw new TypeError(`contentType ${JSON.stringify(contentType)}: must be a non-empty header value of at most 255 characters without control characters`);
  }
  return contentType;
}

/** Checks the shape of a range (non-negative integers, end ≥ start) before any backend sees it. */
export function checkRangeShape(key: string, range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) throw new InvalidRangeError(key, `range start ${start} must be a non-negative integer`);
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) throw new InvalidRangeError(key, `range end ${end} must be an integer ≥ start ${start}`);
}

/**
 * The inclusive offsets to serve for `range` of an object of `size` bytes, with HTTP semantics: an end past the
 * last byte is clamped, a start at or past the end is unsatisfiable (416).
 */
export function resolveRange(key: string, range: ByteRange, size: number): { start: number; end: number } {
  checkRangeShape(key, range);
  if (range.start >= size) throw new InvalidRangeError(key, `range start ${range.start} is not before the object's end (size ${size})`);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

/** SigV4's limit on a presigned URL's lifetime: 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** Checks presignGet's lifetime argument (same rule on every backend, even those that return null). */
export function checkPresignExpiry(expiresSec: number): void {
  if (!Number.isSafeInteger(expiresSec) || expiresSec < 1 || expiresSec > MAX_PRESIGN_SECONDS) {
    throw new RangeError(`presignGet expiresSec ${expiresSec}: must be an integer in 1..${MAX_PRESIGN_SECONDS} (7 days)`);
  }
}
