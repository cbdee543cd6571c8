// Errors thrown by @hifi/data. Each carries a stable `code` so the API/worker error table can map it
// (to an HTTP status or an unrecoverable job failure) without matching on messages.

/** One rejected input row: the 1-based line where the row starts and why it was rejected. */
export interface RejectedRow {
  line: number;
  reason: string;
}

export class DataError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A task name that is not one of the GLUE tasks. */
export class UnknownTaskError extends DataError {
  readonly task: string;
  constructor(task: string, known: readonly string[]) {
    super('UNKNOWN_TASK', `unknown task "${task}"; known tasks: ${known.join(', ')}`);
    this.task = task;
  }
}

/** A split name that the task does not have. */
export class UnknownSplitError extends DataError {
  readonly split: string;
  constructor(task: string, split: string, known: readonly string[]) {
    super('UNKNOWN_SPLIT', `task ${task} has no split "${split}"; its splits are: ${known.join(', ')}`);
    this.split = split;
  }
}

/** A dataset file (or the GLUE data directory) that does not exist. */
export class DatasetNotFoundError extends DataError {
  readonly file: string;
  constructor(file: string, hint: string) {
    super('DATASET_NOT_FOUND', `dataset file not found: ${file}${hint ? ` (${hint})` : ''}`);
    this.file = file;
  }
}

/** A dataset that cannot be used: undecodable, wrong header, too many bad rows, no valid rows... */
export class InvalidDatasetError extends DataError {
  readonly file: string;
  readonly rejected: RejectedRow[];
  constructor(file: string, problem: string, rejected: RejectedRow[] = []) {
    const shown = rejected.slice(0, 5).map((r) => `line ${r.line}: ${r.reason}`);
    const more = rejected.length > shown.length ? `; … ${rejected.length - shown.length} more` : '';
    super('INVALID_DATASET', `${file}: ${problem}${shown.length ? ` (${shown.join('; ')}${more})` : ''}`);
    this.file = file;
    this.rejected = rejected;
  }
}

/** A dataset over the configured size limit. */
export class DatasetTooLargeError extends DataError {
  readonly file: string;
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(file: string, bytes: number, maxBytes: number) {
    super('DATASET_TOO_LARGE', `${file}: ${bytes} bytes exceeds the limit of ${maxBytes} bytes`);
    this.file = file;
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** A download that failed (network error, HTTP status, bad archive content). */
export class DownloadError extends DataError {
  readonly url: string;
  constructor(url: string, problem: string) {
    super('DOWNLOAD_FAILED', `download of ${url} failed: ${problem}`);
    this.url = url;
  }
}

/** A zip archive that cannot be read (truncated, unsupported feature, CRC mismatch, unsafe path). */
export class ZipFormatError extends DataError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super('INVALID_ZIP', `${file}: ${problem}`);
    this.file = file;
  }
}
