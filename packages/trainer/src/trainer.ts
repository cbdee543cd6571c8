// One training step and one prediction pass over a model with a TrainableSet.
//
// A step is one tf.tidy: the layers below the lowest trainable layer run first, outside the gradient function (no
// tape, no backward pass there); the rest of the encoder, the task head and the loss run inside
// tf.variableGrads over the trainable variables only; then global-norm clipping and the AdamW update. The loss
// and gradient norm are read after the tidy has closed.
import * as tf from '@tensorflow/tfjs-core';
import type { EncodedBatch, EncoderModel, LayerOptions } from '@hifi/engine';
import { deriveSeed } from '@hifi/data';
import { AdamW, clipByGlobalNorm } from './adamw.ts';
import type { Hyperparameters } from './hyperparameters.ts';
import { taskLoss, type TaskType } from './loss.ts';
import { linearWarmupDecay, warmupStepsFor } from './lr-schedule.ts';
import type { ParamGroup, TrainableSet } from './trainable.ts';

/** A padded batch with its labels: class ids (Int32Array) or regression targets (Float32Array). */
export interface TrainBatch extends EncodedBatch {
  labels: Int32Array | Float32Array;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rates used, per group. */
  lr: Record<ParamGroup, number>;
}

/** The dropout seed of a (1-based) step: a pure function of (seed, step), so a resumed run replays it. */
export function dropoutSeedFor(seed: number, step: number): number {
  return deriveSeed(seed, step);
}

export class Trainer {
  readonly optimizer: AdamW;
  private readonly variables: tf.Variable[];

  constructor(
    readonly model: EncoderModel,
    readonly trainable: TrainableSet,
    readonly hp: Hyperparameters,
    readonly taskType: TaskType,
  ) {
    if (trainable.variables.length === 0) throw new Error('Trainer: nothing to train (the TrainableSet is empty)');
    this.optimizer = new AdamW(trainable.variables, { beta1: hp.adamBeta1, beta2: hp.adamBeta2, epsilon: hp.adamEpsilon, weightDecay: hp.weightDecay });
    this.variables = trainable.variables.map((v) => v.variable);
  }

  /** Learning rate of each group at 1-based step `step` of `totalSteps`. */
  learningRates(step: number, totalSteps: number): Record<ParamGroup, number> {
    const f = linearWarmupDecay(step, totalSteps, warmupStepsFor(totalSteps, this.hp.warmupRatio));
    return { heads: this.hp.headLearningRate * f, encoder: this.hp.learningRate * f, taskHead: this.hp.taskHeadLearningRate * f };
  }

  /** Runs optimiser step number `step` (1-based, = optimizer.step + 1) of `totalSteps` on a batch. */
  async step(batch: TrainBatch, step: number, totalSteps: number): Promise<StepResult> {
    if (step !== this.optimizer.step + 1) throw new Error(`Trainer.step: expected step ${this.optimizer.step + 1}, got ${step}`);
    const lr = this.learningRates(step, totalSteps);
    const { model, trainable, taskType } = this;
    const { numLayers: L, hiddenSize: C } = model.config;
    const [lossT, normT] = tf.tidy(() => {
      const inputs = model.inputsFromBatch(batch);
      const B = batch.batchSize;
      const T = batch.seqLen;
      const shape = { batchSize: B, seqLen: T };
      const labels = taskType === 'classification' ? tf.tensor1d(batch.labels, 'int32') : tf.tensor1d(batch.labels, 'float32');
      const opts: LayerOptions = { training: true, dropoutSeed: dropoutSeedFor(this.hp.seed, step) };
      const mask = model.extendedMask(inputs.attentionMask);
      // Frozen bottom: embeddings and layers below the lowest trainable one, outside the gradient function.
      const lowest = trainable.lowestTrainableLayer;
      let below: tf.Tensor2D | undefined;
      if (lowest >= 0) {
        below = model.embed(inputs, opts);
        for (let i = 0; i < Math.min(lowest, L); i++) below = model.layer(i, below, mask, shape, opts).hidden;
      }
      const lossFn = (): tf.Scalar => {
        const o: LayerOptions = { ...opts, overrides: trainable.overrides() };
        let x = below ?? model.embed(inputs, o);
        for (let i = Math.max(lowest, 0); i < L; i++) x = model.layer(i, x, mask, shape, o).hidden;
        const logits = model.taskHead(tf.reshape(x, [B, T, C]) as tf.Tensor3D, o);
        return taskLoss(logits, labels, taskType);
      };
      const { value, grads } = tf.variableGrads(lossFn, this.variables);
      const { grads: clipped, norm } = clipByGlobalNorm(grads, this.hp.maxGradNorm);
      this.optimizer.apply(clipped, (g) => lr[g]);
      return [value, norm];
    });
    try {
      const [loss, gradNorm] = await Promise.all([lossT.data(), normT.data()]);
      return { loss: loss[0], gradNorm: gradNorm[0], lr };
    } finally {
      lossT.dispose();
      normT.dispose();
    }
  }

  /** Logits [B, numLabels] of a batch in evaluation mode (no dropout), read to the host, row-major. */
  async predict(batch: EncodedBatch): Promise<Float32Array> {
    const logits = tf.tidy(() => this.model.forward(batch, { overrides: this.trainable.overrides() }).logits!);
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  }

  /** Frees the optimiser state (the TrainableSet and the model belong to the caller). */
  dispose(): void {
    this.optimizer.dispose();
  }
}
