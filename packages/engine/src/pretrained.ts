// One call from a model source to a ready model: resolve the source (hub download or local directory), read the
// checkpoint, build the tokenizer, and load the weights into an EncoderModel, with a report of what was not
// used and what was initialised fresh (the task head of a base checkpoint, or one whose label count changed).
import { initBackend } from './backend.ts';
import { loadCheckpointDir } from './checkpoint.ts';
import type { CheckpointFiles } from './checkpoint.ts';
import { withLabels } from './config.ts';
import type { ModelConfig } from './config.ts';
import { TokenizerError } from './errors.ts';
import { resolveModelSource } from './hub.ts';
import type { ResolveOptions } from './hub.ts';
import { EncoderModel } from './model.ts';
import { loadTokenizer } from './tokenizer.ts';
import type { EncoderTokenizer } from './tokenizer.ts';
import type { LoadReport } from './types.ts';

export interface LoadPretrainedOptions extends ResolveOptions {
  /** Label names of the task head (or 'regression'); replaces the checkpoint's. */
  labels?: string[] | 'regression';
  /** Shorthand for labels LABEL_0 … LABEL_{n-1}; 1 means regression. */
  numLabels?: number;
  /** Seed of the fresh initialisation of missing task-head weights. */
  seed?: number;
}

export interface Pretrained {
  model: EncoderModel;
  tokenizer: EncoderTokenizer;
  config: ModelConfig;
  report: LoadReport;
  /** The local checkpoint directory (the hub cache directory for hf: sources). */
  dir: string;
  files: CheckpointFiles;
  /** The longest input, special tokens included, the model's position embeddings allow. */
  maxLength: number;
}

/** The longest input the position embeddings allow (RoBERTa's positions start after padding_idx). */
export function maxInputLength(config: ModelConfig): number {
  return config.modelType === 'roberta' ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}

function labelsFrom(opts: LoadPretrainedOptions): string[] | 'regression' | undefined {
  if (opts.labels !== undefined && opts.numLabels !== undefined) {
    const n = opts.labels === 'regression' ? 1 : opts.labels.length;
    if (n !== opts.numLabels) throw new RangeError(`labels (${n}) and numLabels (${opts.numLabels}) disagree`);
  }
  if (opts.labels !== undefined) {
    if (opts.labels !== 'regression' && (opts.labels.length === 0 || new Set(opts.labels).size !== opts.labels.length)) {
      throw new RangeError('labels must be a non-empty list of distinct names');
    }
    return opts.labels;
  }
  if (opts.numLabels !== undefined) {
    if (!Number.isInteger(opts.numLabels) || opts.numLabels < 1) throw new RangeError(`numLabels must be a positive integer, got ${opts.numLabels}`);
    return opts.numLabels === 1 ? 'regression' : Array.from({ length: opts.numLabels }, (_, i) => `LABEL_${i}`);
  }
  return undefined;
}

/**
 * Loads a model and its tokenizer from "hf:org/name[@revision]" or a checkpoint directory.
 * Dispose `model` when done with it.
 */
export async function loadPretrained(source: string, opts: LoadPretrainedOptions = {}): Promise<Pretrained> {
  const labels = labelsFrom(opts);
  const dir = await resolveModelSource(source, opts);
  const checkpoint = await loadCheckpointDir(dir);
  const config = labels ? withLabels(checkpoint.config, labels) : checkpoint.config;
  // The tokenizer first: its errors then leave no tensors behind.
  const tokenizer = await loadTokenizer(dir, config);
  const vocab = tokenizer.vocabSize();
  if (vocab > config.vocabSize) {
    throw new TokenizerError(tokenizer.files[0] ?? dir, `tokenizer has ids up to ${vocab - 1}, but the model's vocab_size is ${config.vocabSize}`);
  }
  await initBackend();
  const { model, report } = EncoderModel.fromStateDict(config, checkpoint.weights, opts.seed === undefined ? {} : { seed: opts.seed });
  return { model, tokenizer, config, report, dir, files: checkpoint.files, maxLength: maxInputLength(config) };
}
