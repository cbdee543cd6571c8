// Typed errors of the trainer. Each has a stable `code` and a message that names the file/field and the problem.

/** Hyperparameters, head lists or a training spec that cannot be used as given. */
export class TrainingConfigError extends Error {
  readonly code = 'INVALID_TRAINING_CONFIG';
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'TrainingConfigError';
  }
}

/** A training checkpoint that cannot be resumed from: missing files, bad JSON, or state of another run. */
export class CorruptCheckpointError extends Error {
  readonly code = 'CORRUPT_CHECKPOINT';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CorruptCheckpointError';
  }
}

/** An adapter directory that cannot be applied: missing files, a different base model, unknown keys. */
export class AdapterError extends Error {
  readonly code = 'INVALID_ADAPTER';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'AdapterError';
  }
}

/** Training stopped because the AbortSignal fired; the last checkpoint (if any) can be resumed. */
export class TrainingAbortedError extends Error {
  readonly code = 'TRAINING_ABORTED';
  constructor(readonly step: number, readonly checkpoint: string | null) {
    super(step === 0 && !checkpoint ? 'stopped before training began' : `training stopped at step ${step}${checkpoint ? ` (checkpoint ${checkpoint})` : ''}`);
    this.name = 'TrainingAbortedError';
  }
}
