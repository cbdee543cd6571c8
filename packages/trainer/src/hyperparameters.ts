// Training hyperparameters: one typed object with documented defaults, checked once (each error names the field).
// Defaults were chosen by a short sweep on bert-mini-hifi (see packages/trainer/README.md, "Defaults"); they suit
// small models (a few million parameters). For bert-base-sized models use smaller rates (full: 2e-5 … 5e-5).
import { TrainingConfigError } from './errors.ts';

export interface Hyperparameters {
  /** Passes over the training set; 0 = no epoch limit (then maxSteps must be set). Default 3. */
  epochs: number;
  /** Stop after this many optimiser steps; 0 = no step limit. With both set, whichever ends first. Default 0. */
  maxSteps: number;
  /** Examples per step. Default 32. */
  batchSize: number;
  /** Examples per evaluation forward pass. Default 64. */
  evalBatchSize: number;
  /** Peak learning rate of the selected heads' slices (Q, K, V and, optionally, output-projection rows). Default 3e-3. */
  headLearningRate: number;
  /** Peak learning rate of the other encoder parameters, which train only under `full` (every parameter). Default 1e-3. */
  learningRate: number;
  /** Peak learning rate of the task head (pooler + classifier). Default 1e-3. */
  taskHeadLearningRate: number;
  /** Fraction of the steps spent warming the learning rate up linearly from 0. Default 0.1. */
  warmupRatio: number;
  /** Decoupled (AdamW) weight decay, on tensors with ≥ 2 dims only. Default 0.01. */
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** Global-norm gradient clipping; 0 = off. Default 1.0. */
  maxGradNorm: number;
  /** Tokens per example after truncation, special tokens included. Default 128. */
  maxLength: number;
  /** Seeds data order, subsampling, dropout and a fresh task head. Default 42. */
  seed: number;
  /** Evaluate every N steps; 0 = at the end of each epoch. Default 0. */
  evalInterval: number;
  /** Stop after this many evaluations without improvement of the main metric; 0 = never. Default 0. */
  earlyStoppingPatience: number;
  /** Use at most this many training examples (a seeded sample); 0 = all. Default 0. */
  maxTrainExamples: number;
  /** Evaluate on at most this many examples (the first ones); 0 = all. Default 0. */
  maxEvalExamples: number;
  /** Also train each selected head's rows of the attention output projection. Default true. */
  trainOutputProjection: boolean;
  /** Write a resumable checkpoint every N steps; 0 = at each evaluation only. Default 0. */
  checkpointInterval: number;
  /** …and at least every M minutes of training. Default 10. */
  checkpointMinutes: number;
  /** Step checkpoints to keep (the best one is kept apart). Default 2. */
  keepCheckpoints: number;
  /** Restore the weights of the best evaluation before exporting. Default true. */
  restoreBest: boolean;
}

export const DEFAULT_HYPERPARAMETERS: Readonly<Hyperparameters> = Object.freeze({
  epochs: 3,
  maxSteps: 0,
  batchSize: 32,
  evalBatchSize: 64,
  headLearningRate: 3e-3,
  learningRate: 1e-3,
  taskHeadLearningRate: 1e-3,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  maxGradNorm: 1.0,
  maxLength: 128,
  seed: 42,
  evalInterval: 0,
  earlyStoppingPatience: 0,
  maxTrainExamples: 0,
  maxEvalExamples: 0,
  trainOutputProjection: true,
  checkpointInterval: 0,
  checkpointMinutes: 10,
  keepCheckpoints: 2,
  restoreBest: true,
});

type Check = (v: number) => boolean;
const positiveInt: Check = (v) => Number.isInteger(v) && v > 0;
const nonNegInt: Check = (v) => Number.isInteger(v) && v >= 0;
const positive: Check = (v) => Number.isFinite(v) && v > 0;
const nonNeg: Check = (v) => Number.isFinite(v) && v >= 0;
const unit: Check = (v) => Number.isFinite(v) && v >= 0 && v < 1;

const NUMERIC: Record<Exclude<keyof Hyperparameters, 'trainOutputProjection' | 'restoreBest'>, [Check, string]> = {
  epochs: [nonNeg, 'a non-negative number'],
  maxSteps: [nonNegInt, 'a non-negative integer'],
  batchSize: [positiveInt, 'a positive integer'],
  evalBatchSize: [positiveInt, 'a positive integer'],
  headLearningRate: [nonNeg, 'a non-negative number'],
  learningRate: [nonNeg, 'a non-negative number'],
  taskHeadLearningRate: [nonNeg, 'a non-negative number'],
  warmupRatio: [unit, 'a number in [0, 1)'],
  weightDecay: [nonNeg, 'a non-negative number'],
  adamBeta1: [unit, 'a number in [0, 1)'],
  adamBeta2: [unit, 'a number in [0, 1)'],
  adamEpsilon: [positive, 'a positive number'],
  maxGradNorm: [nonNeg, 'a non-negative number'],
  maxLength: [(v) => Number.isInteger(v) && v >= 4, 'an integer ≥ 4'],
  seed: [(v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative safe integer'],
  evalInterval: [nonNegInt, 'a non-negative integer'],
  earlyStoppingPatience: [nonNegInt, 'a non-negative integer'],
  maxTrainExamples: [nonNegInt, 'a non-negative integer'],
  maxEvalExamples: [nonNegInt, 'a non-negative integer'],
  checkpointInterval: [nonNegInt, 'a non-negative integer'],
  checkpointMinutes: [nonNeg, 'a non-negative number'],
  keepCheckpoints: [positiveInt, 'a positive integer'],
};

/** Fills defaults and validates. Unknown fields are an error (a typo should not silently train with a default). */
export function resolveHyperparameters(given: Partial<Hyperparameters> = {}): Hyperparameters {
  const known = new Set<string>(Object.keys(DEFAULT_HYPERPARAMETERS));
  for (const k of Object.keys(given)) if (!known.has(k)) throw new TrainingConfigError(`hyperparameters.${k}`, `unknown hyperparameter (known: ${[...known].join(', ')})`);
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<Hyperparameters>;
  const hp: Hyperparameters = {
    ...DEFAULT_HYPERPARAMETERS,
    ...defined,
  };
  for (const [k, [ok, what]] of Object.entries(NUMERIC) as [keyof typeof NUMERIC, [Check, string]][]) {
    const v = hp[k];
    if (typeof v !== 'number' || !ok(v)) throw new TrainingConfigError(`hyperparameters.${k}`, `must be ${what}, got ${JSON.stringify(v)}`);
  }
  for (const k of ['trainOutputProjection', 'restoreBest'] as const) {
    if (typeof hp[k] !== 'boolean') throw new TrainingConfigError(`hyperparameters.${k}`, `must be true or false, got ${JSON.stringify(hp[k])}`);
  }
  if (hp.epochs === 0 && hp.maxSteps === 0) throw new TrainingConfigError('hyperparameters.epochs', 'epochs and maxSteps are both 0: set one of them');
  return hp;
}
