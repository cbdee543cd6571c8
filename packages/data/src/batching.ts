// Batches of tokenised examples: length-bucketed, dynamically padded, in a deterministic order that
// depends only on (seed, epoch), so a run can checkpoint a small cursor and resume the same data order.
import type { TokenizedExample } from './example.ts';
import { deriveSeed, Rng } from './rng.ts';
import type { TaskType } from './tasks.ts';

/** A padded batch, row-major [batchSize, seqLen]; identical to EncodedBatch in @hifi/engine (types.ts). */
export interface EncodedBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Int32Array;
  /** All zeros for RoBERTa. */
  tokenTypeIds: Int32Array;
}

/** An EncodedBatch with its labels and where its rows came from. */
export interface LabeledBatch extends EncodedBatch {
  /** [batchSize]: class ids (Int32Array) for classification, targets (Float32Array) for regression. */
  labels: Int32Array | Float32Array;
  /** Index in the example array of each row. */
  indices: number[];
}

export interface CollateOptions {
  /** Token id used for padding (default 0, BERT's [PAD]; RoBERTa's <pad> is 1). */
  padId?: number;
  /** 'classification' (default) gives Int32Array labels, 'regression' Float32Array. */
  taskType?: TaskType;
  /** Round seqLen up to a multiple of this (default 1: pad to the longest row only). */
  padToMultipleOf?: number;
}

function checkExample(ex: TokenizedExample | undefined, i: number, taskType: TaskType): TokenizedExample {
  if (!ex) throw new RangeError(`no example at index ${i}`);
  if (ex.inputIds.length === 0) throw new RangeError(`example ${i}: inputIds is empty`);
  if (ex.tokenTypeIds.length !== ex.inputIds.length) {
    throw new RangeError(`example ${i}: tokenTypeIds has ${ex.tokenTypeIds.length} entries, inputIds ${ex.inputIds.length}`);
  }
  if (taskType === 'classification' ? !Number.isInteger(ex.label) : !Number.isFinite(ex.label)) {
    throw new RangeError(`example ${i}: label ${ex.label} is not ${taskType === 'classification' ? 'an integer class id' : 'a finite number'}`);
  }
  return ex;
}

/** Pads the selected examples to the longest of them and stacks them into one batch. */
export function collate(examples: readonly TokenizedExample[], indices: readonly number[], opts: CollateOptions = {}): LabeledBatch {
  const padId = opts.padId ?? 0;
  const taskType = opts.taskType ?? 'classification';
  const multiple = opts.padToMultipleOf ?? 1;
  if (indices.length === 0) throw new RangeError('collate: empty batch');
  const rows = indices.map((i) => checkExample(examples[i], i, taskType));
  let seqLen = 0;
  for (const r of rows) seqLen = Math.max(seqLen, r.inputIds.length);
  seqLen = Math.ceil(seqLen / multiple) * multiple;
  const B = rows.length;
  const inputIds = new Int32Array(B * seqLen).fill(padId); // [B, T]
  const attentionMask = new Int32Array(B * seqLen); // [B, T], 1 on real tokens
  const tokenTypeIds = new Int32Array(B * seqLen); // [B, T], 0 on padding
  const labels = taskType === 'classification' ? new Int32Array(B) : new Float32Array(B);
  rows.forEach((r, b) => {
    const off = b * seqLen;
    inputIds.set(r.inputIds, off);
    tokenTypeIds.set(r.tokenTypeIds, off);
    attentionMask.fill(1, off, off + r.inputIds.length);
    labels[b] = r.label;
  });
  return { batchSize: B, seqLen, inputIds, attentionMask, tokenTypeIds, labels, indices: [...indices] };
}

export interface TrainBatchOptions {
  batchSize: number;
  seed: number;
  /** Shuffle each epoch (default true). With false, batches are consecutive examples, as in evaluation. */
  shuffle?: boolean;
  /**
   * Group similar lengths (default true): the epoch's shuffled order is cut into pools of
   * batchSize × poolBatches examples, each pool is sorted by length and cut into batches, and the
   * batches of the whole epoch are shuffled. Less padding, still a random order.
   */
  bucketing?: boolean;
  /** Pool size in batches for bucketing (default 50, as Hugging Face's length-grouped sampler). */
  poolBatches?: number;
  /** Drop the final batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
}

/**
 * The batches of one epoch as lists of example indices. A pure function of (lengths, epoch, options):
 * epoch e of seed s always gives the same plan, whatever happened before.
 */
export function planTrainBatches(lengths: readonly number[], epoch: number, opts: TrainBatchOptions): number[][] {
  const { batchSize } = opts;
  checkBatchSize(batchSize);
  const n = lengths.length;
  const shuffle = opts.shuffle ?? true;
  const rng = new Rng(deriveSeed(opts.seed, epoch));
  const order = shuffle ? rng.permutation(n) : Array.from({ length: n }, (_, i) => i);
  let batches: number[][] = [];
  if (shuffle && (opts.bucketing ?? true)) {
    const pool = batchSize * (opts.poolBatches ?? 50);
    for (let p = 0; p < n; p += pool) {
      // Longest first inside a pool; ties keep the shuffled order (Array.prototype.sort is stable).
      const chunk = order.slice(p, p + pool).sort((a, b) => lengths[b] - lengths[a]);
      for (let s = 0; s < chunk.length; s += batchSize) batches.push(chunk.slice(s, s + batchSize));
    }
    rng.shuffle(batches);
  } else {
    for (let s = 0; s < n; s += batchSize) batches.push(order.slice(s, s + batchSize));
  }
  if (opts.dropLast) batches = batches.filter((b) => b.length === batchSize);
  return batches;
}

/** Evaluation batches: consecutive examples in their original order. */
export function planEvalBatches(n: number, batchSize: number): number[][] {
  checkBatchSize(batchSize);
  const out: number[][] = [];
  for (let s = 0; s < n; s += batchSize) out.push(Array.from({ length: Math.min(batchSize, n - s) }, (_, k) => s + k));
  return out;
}

/** Collated training batches of one epoch, made lazily. */
export function* trainBatches(examples: readonly TokenizedExample[], epoch: number, opts: TrainBatchOptions & CollateOptions): Generator<LabeledBatch> {
  const plan = planTrainBatches(examples.map((e) => e.inputIds.length), epoch, opts);
  for (const idx of plan) yield collate(examples, idx, opts);
}

/** Collated evaluation batches in the original order (predictions line up with the examples). */
export function* evalBatches(examples: readonly TokenizedExample[], opts: { batchSize: number } & CollateOptions): Generator<LabeledBatch> {
  for (const idx of planEvalBatches(examples.length, opts.batchSize)) yield collate(examples, idx, opts);
}

/** Where a TrainBatchStream is: JSON-safe, to store in a training checkpoint. */
export interface BatchCursor {
  seed: number;
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** Index of the next batch within that epoch. */
  step: number;
  /** Number of examples the plan was made for; resuming on a different dataset is refused. */
  numExamples: number;
}

/**
 * An endless stream of training batches across epochs. `cursor` is the position of the next batch;
 * `new TrainBatchStream(examples, opts, savedCursor)` continues exactly where the saved run stopped.
 */
export class TrainBatchStream {
  private readonly lengths: number[];
  private plan: number[][];
  private epoch: number;
  private step: number;

  constructor(private readonly examples: readonly TokenizedExample[], private readonly opts: TrainBatchOptions & CollateOptions, cursor?: BatchCursor) {
    if (examples.length === 0) throw new RangeError('TrainBatchStream: no examples');
    this.lengths = examples.map((e) => e.inputIds.length);
    if (cursor) {
      if (cursor.seed !== opts.seed) throw new RangeError(`cursor seed ${cursor.seed} differs from options seed ${opts.seed}`);
      if (cursor.numExamples !== examples.length) {
        throw new RangeError(`cursor was saved for ${cursor.numExamples} examples, this dataset has ${examples.length}`);
      }
      if (!Number.isInteger(cursor.epoch) || cursor.epoch < 0 || !Number.isInteger(cursor.step) || cursor.step < 0) {
        throw new RangeError(`invalid cursor ${JSON.stringify(cursor)}`);
      }
    }
    this.epoch = cursor?.epoch ?? 0;
    this.step = cursor?.step ?? 0;
    this.plan = planTrainBatches(this.lengths, this.epoch, opts);
    if (this.plan.length === 0) throw new RangeError(`no batches: ${examples.length} examples, batchSize ${opts.batchSize} with dropLast`);
    if (this.step > this.plan.length) throw new RangeError(`cursor step ${this.step} is past the ${this.plan.length} batches of an epoch`);
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.plan.length;
  }

  /** Position of the next batch. */
  get cursor(): BatchCursor {
    return { seed: this.opts.seed, epoch: this.epoch, step: this.step, numExamples: this.examples.length };
  }

  next(): { batch: LabeledBatch; epoch: number; step: number } {
    if (this.step >= this.plan.length) {
      this.epoch++;
      this.step = 0;
      this.plan = planTrainBatches(this.lengths, this.epoch, this.opts);
    }
    const out = { batch: collate(this.examples, this.plan[this.step], this.opts), epoch: this.epoch, step: this.step };
    this.step++;
    return out;
  }
}

/** Token counts of a set of batches: how much of the computed [B, T] is padding. */
export function paddingStats(batches: Iterable<EncodedBatch>): { realTokens: number; totalTokens: number; paddingFraction: number } {
  let real = 0;
  let total = 0;
  for (const b of batches) {
    total += b.batchSize * b.seqLen;
    for (let i = 0; i < b.attentionMask.length; i++) real += b.attentionMask[i];
  }
  return { realTokens: real, totalTokens: total, paddingFraction: total === 0 ? 0 : (total - real) / total };
}

/**
 * n items drawn without replacement with a seeded RNG, returned in their original relative order.
 * n ≥ items.length returns a copy of all items.
 */
export function sample<T>(items: readonly T[], n: number, seed: number): T[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`sample: n must be a non-negative integer, got ${n}`);
  if (n >= items.length) return [...items];
  // Partial Fisher–Yates over indices: the first n positions are a uniform n-subset.
  const rng = new Rng(seed);
  const idx = Array.from({ length: items.length }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(items.length - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, n).sort((a, b) => a - b).map((i) => items[i]);
}
