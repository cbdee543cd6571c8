// Typed errors of the storage layer. Each has a stable `code` (listed once, the way the API's error table wants
// them) and a message that names the key, prefix or setting and the problem, so it can be shown as it is.
// Any other error a backend throws (a network failure, S3 throttling) is passed through unchanged: it is transient,
// and the caller (a BullMQ job) should retry.

/** A key or prefix that is empty, absolute, has `.`/`..`/empty segments, backslashes, control characters, or escapes the store's root. */
export class StorageKeyError extends Error {
  readonly code = 'INVALID_KEY';
  constructor(readonly key: string, problem: string) {
    super(`storage key ${JSON.stringify(key)}: ${problem}`);
    this.name = 'StorageKeyError';
  }
}

/** The object does not exist. */
export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND';
  constructor(readonly key: string, options?: { cause?: unknown }) {
    super(`storage key ${JSON.stringify(key)}: no such object`, options);
    this.name = 'NotFoundError';
  }
}

/** A byte range that cannot be served (HTTP 416): start past the end of the object, end before start, not integers. */
export class InvalidRangeError extends Error {
  readonly code = 'INVALID_RANGE';
  constructor(readonly key: string, problem: string, options?: { cause?: unknown }) {
    super(`storage key ${JSON.stringify(key)}: ${problem}`, options);
    this.name = 'InvalidRangeError';
  }
}

/** A storage setting (HIFI_STORAGE, HIFI_DATA_DIR, …) that is missing or malformed; `setting` names it. */
export class StorageConfigError extends Error {
  readonly code = 'INVALID_STORAGE_CONFIG';
  constructor(readonly setting: string, problem: string) {
    super(`${setting}: ${problem}`);
    this.name = 'StorageConfigError';
  }
}

/** `ping()` failed: the data directory is not writable, or the bucket cannot be reached. `cause` has the details. */
export class StorageUnavailableError extends Error {
  readonly code = 'STORAGE_UNAVAILABLE';
  constructor(readonly target: string, problem: string, options?: { cause?: unknown }) {
    super(`${target}: ${problem}`, options);
    this.name = 'StorageUnavailableError';
  }
}
