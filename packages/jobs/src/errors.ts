// The error catalogue: every error the API answers with, or the worker records on a job, is listed here once
// with its code, HTTP status and title (in the spirit of fastify's lib/errors.js). The API turns a `HifiError`
// into an RFC 9457 problem; the worker turns an `UnrecoverableJobError` into the job's `error` field.
import { UnrecoverableError } from 'bullmq';

export interface ErrorDefinition {
  readonly status: number;
  readonly title: string;
}

export const ERROR_CATALOGUE = {
  // Request errors (API).
  VALIDATION_FAILED: { status: 400, title: 'The request did not pass validation' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  INVALID_ARTIFACT_NAME: { status: 400, title: 'The artifact name is not allowed' },
  INVALID_CURSOR: { status: 400, title: 'The pagination cursor is not valid' },
  UNAUTHORIZED: { status: 401, title: 'A valid API key is required' },
  NOT_FOUND: { status: 404, title: 'The resource was not found' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state of the resource' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA: { status: 415, title: 'The media type is not supported' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'The requested range cannot be served' },
  INVALID_DATASET: { status: 422, title: 'The dataset is not valid' },
  UNKNOWN_TASK: { status: 422, title: 'The task is not known' },
  UNKNOWN_MODEL: { status: 422, title: 'The model is not known' },
  MODEL_NOT_ALLOWED: { status: 422, title: 'The model source is not allowed' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The idempotency key was already used with a different request' },
  WEBHOOK_URL_NOT_ALLOWED: { status: 422, title: 'The webhook URL is not allowed' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  NOT_READY: { status: 503, title: 'The service is not ready' },
  QUEUE_UNAVAILABLE: { status: 503, title: 'The job queue is not available' },
  STORAGE_UNAVAILABLE: { status: 503, title: 'The object storage is not available' },
  // Job errors (worker): recorded on the job record as {code, message, param}; the status is what the failure
  // would mean over HTTP and is informational.
  INVALID_JOB_SPEC: { status: 422, title: 'The job specification is not valid for this worker' },
  MODEL_LOAD_FAILED: { status: 422, title: 'The model could not be loaded' },
  CORRUPT_CHECKPOINT: { status: 422, title: 'A checkpoint is corrupt' },
  TRAINING_DIVERGED: { status: 500, title: 'Training diverged' },
  JOB_TIMEOUT: { status: 500, title: 'The job ran longer than allowed' },
  WORKER_LOST: { status: 500, title: 'The worker running the job stopped' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, value);
}

/** The RFC 9457 `type` URI of a problem: a stable, non-dereferenceable URN derived from the code. */
export function problemType(code: ErrorCode): string {
  return `urn:problem-type:hifi:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** One field-level validation failure; `path` is a JSON pointer into the request part (e.g. `/budget/perLayer`). */
export interface FieldError {
  path: string;
  message: string;
}

export interface HifiErrorOptions {
  /** The offending field as a JSON pointer or dotted name (e.g. `task`, `/hyperparameters/batchSize`). */
  param?: string;
  /** Field-level details for validation failures. */
  errors?: FieldError[];
  /** Extra response headers (e.g. `Retry-After`, `Content-Range`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error from the catalogue: `statusCode` makes Fastify and the problem handler answer with the right status. */
export class HifiError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly title: string;
  readonly param: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, detail: string, opts: HifiErrorOptions = {}) {
    super(detail, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HifiError';
    this.code = code;
    this.statusCode = ERROR_CATALOGUE[code].status;
    this.title = ERROR_CATALOGUE[code].title;
    this.param = opts.param;
    this.errors = opts.errors;
    this.headers = opts.headers;
  }
}

export function isHifiError(value: unknown): value is HifiError {
  return value instanceof HifiError;
}

/** What a job record keeps about a failure. */
export interface JobErrorInfo {
  code: string;
  message: string;
  param?: string;
}

/**
 * Thrown by the worker for failures that retrying cannot fix (bad input, missing model, corrupt data). It extends
 * BullMQ's `UnrecoverableError`, so BullMQ fails the job at once without further attempts. Transient failures
 * (Redis, S3, network) should be thrown as ordinary errors so that BullMQ retries with backoff.
 */
export class UnrecoverableJobError extends UnrecoverableError {
  readonly code: ErrorCode;
  readonly param: string | undefined;

  constructor(code: ErrorCode, message: string, param?: string) {
    super(message);
    this.name = 'UnrecoverableJobError';
    this.code = code;
    this.param = param;
  }

  toJobError(): JobErrorInfo {
    return this.param === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, param: this.param };
  }
}
