// S3Store: objects in an S3 (or S3-compatible: MinIO, R2, s3rver) bucket, under an optional key prefix.
// Key `a/b.json` of a store with prefix `hifi` is the S3 key `hifi/a/b.json`. Uploads go through lib-storage's
// Upload (multipart above one part, parts of `partSizeBytes` sent `uploadConcurrency` at a time); S3 makes an
// object visible only once its upload completes, so a put() is atomic. Checksums are computed only where S3 requires
// them (the SDK's newer default adds trailing checksums that several S3-compatible servers do not understand).
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable, Transform } from 'node:stream';
import { InvalidRangeError, NotFoundError, StorageConfigError, StorageKeyError, StorageUnavailableError } from './errors.ts';
import { mapWithConcurrency } from './map-with-concurrency.ts';
import { compareKeys, isUnderPrefix, normalizePrefix, validateKey } from './object-key.ts';
import { checkPresignExpiry, checkRangeShape, contentTypeOf, DEFAULT_CONTENT_TYPE } from './object-store.ts';
import type { ByteRange, ListedObject, ObjectBody, ObjectInfo, ObjectStore, PutOptions, PutResult } from './object-store.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or absent = the bucket's root). */
  prefix?: string;
  region?: string;
  /** Custom endpoint (MinIO, R2, s3rver), e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key`; most S3-compatible servers need it. */
  forcePathStyle?: boolean;
  /** Absent: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles, …). */
  credentials?: S3Credentials;
  /** Multipart part size in bytes; S3 needs at least 5 MiB. Default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded in parallel per put(). Default 4. Memory use is up to partSizeBytes × uploadConcurrency. */
  uploadConcurrency?: number;
  /** Keys per ListObjectsV2 page (1–1000). Default 1000; tests lower it to exercise paging. */
  listPageSize?: number;
  /** Use this client instead of making one (it is then not destroyed by close()). */
  client?: S3Client;
}

export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
const COPY_CONCURRENCY = 8;

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = error.$metadata;
  return typeof metadata === 'object' && metadata !== null && 'httpStatusCode' in metadata && typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}
/** A missing object (not a missing bucket, which is a configuration problem and is passed through). */
function isMissingObject(error: unknown): boolean {
  const name = errorName(error);
  return name === 'NoSuchKey' || name === 'NotFound' || (httpStatus(error) === 404 && name !== 'NoSuchBucket');
}

/** Counts the bytes that flow through, so put() can report the size of a streamed upload. */
class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

export class S3Store implements ObjectStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly bucket: string;
  /** Normalised key prefix inside the bucket, without a trailing '/'. */
  readonly prefix: string;
  /** The SDK client, for callers that need more than this interface (and for tests that watch the requests). */
  readonly client: S3Client;
  readonly partSizeBytes: number;
  readonly uploadConcurrency: number;
  readonly listPageSize: number;
  readonly #ownsClient: boolean;

  constructor(options: S3StoreOptions) {
    if (typeof options.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new StorageConfigError('bucket', `${JSON.stringify(options.bucket)} is not a valid S3 bucket name (3–63 lowercase letters, digits, '.', '-')`);
    }
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? '', { allowEmpty: true });
    this.partSizeBytes = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    if (!Number.isSafeInteger(this.partSizeBytes) || this.partSizeBytes < MIN_PART_SIZE_BYTES) {
      throw new StorageConfigError('partSizeBytes', `${this.partSizeBytes} is below S3's minimum part size of ${MIN_PART_SIZE_BYTES} bytes (5 MiB)`);
    }
    this.uploadConcurrency = options.uploadConcurrency ?? 4;
    if (!Number.isSafeInteger(this.uploadConcurrency) || this.uploadConcurrency < 1) throw new StorageConfigError('uploadConcurrency', `${this.uploadConcurrency} must be an integer ≥ 1`);
    this.listPageSize = options.listPageSize ?? 1000;
    if (!Number.isSafeInteger(this.listPageSize) || this.listPageSize < 1 || this.listPageSize > 1000) throw new StorageConfigError('listPageSize', `${this.listPageSize} must be an integer in 1..1000`);
    this.location = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    this.#ownsClient = options.client === undefined;
    this.client = options.client ?? new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** The S3 key of a validated store key (or folder). */
  private s3Key(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  /** The store key of an S3 key listed under this store's prefix. */
  private storeKey(s3Key: string): string {
    return this.prefix === '' ? s3Key : s3Key.slice(this.prefix.length + 1);
  }

  async put(key: string, body: ObjectBody, options?: PutOptions): Promise<PutResult> {
    validateKey(key);
    const contentType = contentTypeOf(options);
    const counter = body instanceof Readable ? new ByteCounter() : undefined;
    let sourceError: Error | undefined;
    if (body instanceof Readable && counter !== undefined) {
      body.pipe(counter);
      // An error of the source destroys the counter with that error, which makes the upload fail (and abort).
      body.once('error', (error) => {
        sourceError = error;
        counter.destroy(error);
      });
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.s3Key(key), Body: counter ?? body, ContentType: contentType },
      partSize: this.partSizeBytes,
      queueSize: this.uploadConcurrency,
      leavePartsOnError: false,
    });
    let result;
    try {
      result = await upload.done();
    } catch (error) {
      if (body instanceof Readable) body.destroy(); // as FsStore does: the source is not read further
      // A failing source is the root cause, even if aborting the multipart upload failed afterwards.
      throw sourceError ?? error;
    }
    const size = body instanceof Readable ? (counter?.bytes ?? 0) : body.byteLength;
    return { size, ...(result.ETag === undefined ? {} : { etag: result.ETag }) };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    validateKey(key);
    if (range !== undefined) checkRangeShape(key, range);
    try {
      const response = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.s3Key(key),
        ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end ?? ''}` }),
      }));
      if (!(response.Body instanceof Readable)) throw new Error(`${this.location}: GetObject of ${JSON.stringify(key)} returned no Node.js stream`);
      return response.Body;
    } catch (error) {
      if (isMissingObject(error)) throw new NotFoundError(key, { cause: error });
      if (errorName(error) === 'InvalidRange' || httpStatus(error) === 416) {
        throw new InvalidRangeError(key, `range ${range?.start}-${range?.end ?? ''} is not satisfiable`, { cause: error });
      }
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.s3Key(key) }));
      return {
        size: response.ContentLength ?? 0,
        contentType: response.ContentType ?? DEFAULT_CONTENT_TYPE,
        ...(response.ETag === undefined ? {} : { etag: response.ETag }),
        lastModified: response.LastModified ?? new Date(0),
      };
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.s3Key(key) }));
  }

  async list(prefix: string): Promise<ListedObject[]> {
    const folder = normalizePrefix(prefix, { allowEmpty: true });
    const s3Prefix = folder === '' ? (this.prefix === '' ? undefined : `${this.prefix}/`) : `${this.s3Key(folder)}/`;
    const found: ListedObject[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        ...(s3Prefix === undefined ? {} : { Prefix: s3Prefix }),
        MaxKeys: this.listPageSize,
        ...(continuationToken === undefined ? {} : { ContinuationToken: continuationToken }),
      }));
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        const key = this.storeKey(item.Key);
        try {
          validateKey(key);
        } catch {
          continue; // an object some other program wrote under a key this store would never accept
        }
        if (!isUnderPrefix(key, folder) || key === folder) continue;
        found.push({ key, size: item.Size ?? 0, ...(item.ETag === undefined ? {} : { etag: item.ETag }), lastModified: item.LastModified ?? new Date(0) });
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
    // S3 lists in UTF-8 byte order already; some S3-compatible servers (s3rver) list in directory-walk order.
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Deletes keys (store keys, already validated) with DeleteObjects, 1000 per request. */
  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const response = await this.client.send(new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: batch.map((key) => ({ Key: this.s3Key(key) })), Quiet: true },
      }));
      const failed = response.Errors ?? [];
      if (failed.length > 0) {
        const first = failed[0];
        throw new Error(`${this.location}: could not delete ${failed.length} of ${batch.length} objects; first: ${first?.Key} (${first?.Code}: ${first?.Message})`);
      }
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    const folder = normalizePrefix(prefix, { allowEmpty: false });
    const keys = (await this.list(folder)).map((item) => item.key);
    await this.deleteKeys(keys);
    return keys.length;
  }

  /**
   * CopySource is `bucket/key`, URL-encoded per segment. The path-safe characters `,;=@:$&` are left as they are
   * (some S3-compatible servers decode CopySource with decodeURI, which keeps their escapes); `+` stays `%2B`, since
   * S3 would read a bare `+` as a space. CopyObject handles objects up to 5 GB.
   */
  private copySource(key: string): string {
    const encodeSegment = (segment: string): string => encodeURIComponent(segment).replace(/%(2C|3B|3D|40|3A|24|26)/g, (escape) => decodeURIComponent(escape));
    return `${this.bucket}/${this.s3Key(key).split('/').map(encodeSegment).join('/')}`;
  }

  async copy(from: string, to: string): Promise<void> {
    validateKey(from);
    validateKey(to);
    if (from === to) {
      if ((await this.head(from)) === null) throw new NotFoundError(from);
      return;
    }
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.s3Key(to), CopySource: this.copySource(from), MetadataDirective: 'COPY' }));
    } catch (error) {
      if (isMissingObject(error)) throw new NotFoundError(from, { cause: error });
      throw error;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await this.copy(from, to);
    if (from !== to) await this.delete(from);
  }

  async promotePrefix(from: string, to: string): Promise<number> {
    const sourceFolder = normalizePrefix(from, { allowEmpty: false });
    const targetFolder = normalizePrefix(to, { allowEmpty: false });
    if (isUnderPrefix(targetFolder, sourceFolder) || isUnderPrefix(sourceFolder, targetFolder)) {
      throw new StorageKeyError(to, `must not overlap the folder it is promoted from (${JSON.stringify(from)})`);
    }
    const sources = (await this.list(sourceFolder)).map((item) => item.key);
    const relative = sources.map((key) => key.slice(sourceFolder.length + 1));
    // 1. every new object is copied in whole (each copy is atomic); 2. the old set's leftovers go; 3. the sources go.
    await mapWithConcurrency(relative, COPY_CONCURRENCY, (rel) => this.copy(`${sourceFolder}/${rel}`, `${targetFolder}/${rel}`));
    const keep = new Set(relative.map((rel) => `${targetFolder}/${rel}`));
    const stale = (await this.list(targetFolder)).map((item) => item.key).filter((key) => !keep.has(key));
    await this.deleteKeys(stale);
    await this.deleteKeys(sources);
    return sources.length;
  }

  async presignGet(key: string, expiresSec: number): Promise<string | null> {
    validateKey(key);
    checkPresignExpiry(expiresSec);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.s3Key(key) }), { expiresIn: expiresSec });
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = httpStatus(error);
      throw new StorageUnavailableError(this.location, `bucket is not reachable${status === undefined ? '' : ` (HTTP ${status})`}: ${errorName(error) ?? ''} ${error instanceof Error ? error.message : String(error)}`.trim(), { cause: error });
    }
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy();
  }
}
