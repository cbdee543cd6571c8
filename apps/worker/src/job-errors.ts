// Which failures retrying cannot fix. Bad input (an unknown task, a model that cannot be read, corrupt safetensors,
// a dataset with only bad rows, settings the trainer refuses) becomes an UnrecoverableJobError with a code from the
// contract's error catalogue and the spec field at fault, so BullMQ fails the job at once and the job record gets a
// readable {code, message, param}. Anything else (Redis, S3, the network, a bug) is left as it is: BullMQ retries it
// with backoff, and only the last attempt records it on the job as INTERNAL.
//
// Errors are recognised by their stable `code` (each package lists its codes once), not by class, so the worker
// does not depend on which package threw them; `cause` chains are followed.
import { UnrecoverableJobError, type ErrorCode } from '@hifi/jobs';

interface Mapping {
  code: ErrorCode;
  param?: string;
}

/** Package error code → catalogue code and the spec field at fault. */
const BAD_INPUT: Record<string, Mapping> = {
  // @hifi/engine
  INVALID_MODEL_SOURCE: { code: 'INVALID_JOB_SPEC', param: 'model' },
  MODEL_SOURCE_NOT_FOUND: { code: 'UNKNOWN_MODEL', param: 'model' },
  MODEL_SOURCE_NOT_ALLOWED: { code: 'MODEL_NOT_ALLOWED', param: 'model' },
  HUB_NOT_FOUND: { code: 'UNKNOWN_MODEL', param: 'model' },
  HUB_UNAUTHORIZED: { code: 'MODEL_LOAD_FAILED', param: 'model' },
  INVALID_SAFETENSORS: { code: 'MODEL_LOAD_FAILED', param: 'model' },
  INVALID_CHECKPOINT: { code: 'MODEL_LOAD_FAILED', param: 'model' },
  INVALID_TOKENIZER: { code: 'MODEL_LOAD_FAILED', param: 'model' },
  INVALID_MODEL_CONFIG: { code: 'MODEL_LOAD_FAILED', param: 'model' },
  // @hifi/data
  UNKNOWN_TASK: { code: 'UNKNOWN_TASK', param: 'task' },
  UNKNOWN_SPLIT: { code: 'UNKNOWN_TASK', param: 'task' },
  DATASET_NOT_FOUND: { code: 'UNKNOWN_TASK', param: 'task' },
  INVALID_DATASET: { code: 'INVALID_DATASET', param: 'task' },
  DATASET_TOO_LARGE: { code: 'INVALID_DATASET', param: 'task' },
  // @hifi/trainer
  INVALID_TRAINING_CONFIG: { code: 'INVALID_JOB_SPEC', param: 'hyperparameters' },
  CORRUPT_CHECKPOINT: { code: 'CORRUPT_CHECKPOINT' },
  INVALID_ADAPTER: { code: 'MODEL_LOAD_FAILED', param: 'model' },
};

function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let e: unknown = err;
  while (e !== undefined && e !== null && out.length < 8 && !out.includes(e)) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The trainer's field for a config error (`hyperparameters.batchSize: …` → `hyperparameters.batchSize`). */
function fieldOf(err: unknown): string | undefined {
  const field = (err as { field?: unknown } | null)?.field;
  return typeof field === 'string' && field !== '' ? field : undefined;
}

/** The error as the job should record it when it cannot be retried, or null when BullMQ should retry it. */
export function asUnrecoverable(err: unknown): UnrecoverableJobError | null {
  for (const e of chain(err)) {
    if (e instanceof UnrecoverableJobError) return e;
    const code = codeOf(e);
    if (code === undefined) continue;
    const message = e instanceof Error ? e.message : String(e);
    if (code === 'INVALID_TRAINING_CONFIG' && /the loss became/.test(message)) return new UnrecoverableJobError('TRAINING_DIVERGED', message, 'hyperparameters');
    const mapping = BAD_INPUT[code];
    if (!mapping) continue;
    const param = code === 'INVALID_TRAINING_CONFIG' ? (fieldOf(e) ?? mapping.param) : mapping.param;
    return new UnrecoverableJobError(mapping.code, message, param);
  }
  return null;
}

/** A short readable line for logs and the job record (no stack). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
