// Evaluation: predictions over a labelled set in evaluation mode, the task's metrics (from @hifi/data) and the
// mean loss.
import * as tf from '@tensorflow/tfjs-core';
import { computeMetrics, evalBatches, predictionsFromLogits, type MetricResult, type MetricSpec, type TokenizedExample } from '@hifi/data';
import type { EncodedBatch } from '@hifi/engine';
import { taskLoss, type TaskType } from './loss.ts';

export interface EvalResult {
  /** Mean loss per example. */
  loss: number;
  metrics: MetricResult;
  /** Class ids (classification) or values (regression), in example order. */
  predictions: Int32Array | Float32Array;
  numExamples: number;
  seconds: number;
}

export interface EvaluateOptions {
  batchSize: number;
  padId: number;
  taskType: TaskType;
  numLabels: number;
  metrics: MetricSpec;
  signal?: AbortSignal;
}

/** Something that gives evaluation-mode logits for a batch (Trainer.predict, or a plain model). */
export type Predictor = (batch: EncodedBatch) => Promise<Float32Array>;

export async function evaluate(predict: Predictor, examples: readonly TokenizedExample[], opts: EvaluateOptions): Promise<EvalResult> {
  const start = performance.now();
  if (examples.length === 0) throw new RangeError('evaluate: no examples');
  const logits = new Float32Array(examples.length * opts.numLabels);
  let lossSum = 0;
  let offset = 0;
  for (const batch of evalBatches(examples, { batchSize: opts.batchSize, padId: opts.padId, taskType: opts.taskType })) {
    opts.signal?.throwIfAborted();
    const out = await predict(batch);
    logits.set(out, offset * opts.numLabels);
    const lossT = tf.tidy(() => {
      const l = tf.tensor2d(out, [batch.batchSize, opts.numLabels]);
      const y = opts.taskType === 'classification' ? tf.tensor1d(batch.labels, 'int32') : tf.tensor1d(batch.labels, 'float32');
      return taskLoss(l, y, opts.taskType);
    });
    lossSum += (await lossT.data())[0] * batch.batchSize;
    lossT.dispose();
    offset += batch.batchSize;
    await new Promise(setImmediate);
  }
  const predictions = predictionsFromLogits(logits, opts.numLabels);
  const labels = examples.map((e) => e.label);
  return {
    loss: lossSum / examples.length,
    metrics: computeMetrics(opts.metrics, predictions, labels),
    predictions,
    numExamples: examples.length,
    seconds: (performance.now() - start) / 1000,
  };
}
