// Typed errors of the engine's input/output half (files, tokenizers, the hub). Each has a stable `code` and a
// message that names the file (or repo and file) and the problem, so it can be shown to a user as it is.
// ConfigError (config.ts) and ModelLoadError (model.ts) are the other two engine errors.

/** A .safetensors file (or a sharded index) that cannot be read: bad header, bad offsets, unsupported dtype, … */
export class SafetensorsError extends Error {
  readonly code = 'INVALID_SAFETENSORS';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

/** A checkpoint directory that cannot be loaded: missing files, unsupported formats, conflicting keys. */
export class CheckpointError extends Error {
  readonly code = 'INVALID_CHECKPOINT';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

/** Tokenizer files that are missing, not JSON, or describe a tokenizer we cannot run. */
export class TokenizerError extends Error {
  readonly code = 'INVALID_TOKENIZER';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'TokenizerError';
  }
}

export type HubErrorCode = 'HUB_NOT_FOUND' | 'HUB_UNAUTHORIZED' | 'HUB_HTTP_ERROR' | 'HUB_NETWORK_ERROR' | 'HUB_INCOMPLETE_DOWNLOAD';

/** A download from the Hugging Face hub (or a mirror) that failed. `repo` and `file` say what was being fetched. */
export class HubError extends Error {
  constructor(readonly code: HubErrorCode, readonly repo: string, readonly file: string, problem: string, options?: { cause?: unknown }) {
    super(`hf:${repo}: ${file}: ${problem}`, options);
    this.name = 'HubError';
  }
}

export type ModelSourceErrorCode = 'INVALID_MODEL_SOURCE' | 'MODEL_SOURCE_NOT_FOUND' | 'MODEL_SOURCE_NOT_ALLOWED';

/** A model source string ("hf:org/name@rev" or a directory) that is malformed, absent, or outside the allowed roots. */
export class ModelSourceError extends Error {
  constructor(readonly code: ModelSourceErrorCode, readonly source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'ModelSourceError';
  }
}
