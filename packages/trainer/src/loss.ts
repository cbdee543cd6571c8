// Losses of the sequence-classification head: mean cross-entropy over classes, or mean squared error when the
// head has one output (regression, e.g. STS-B), as BertForSequenceClassification chooses by num_labels.
import * as tf from '@tensorflow/tfjs-core';

export type TaskType = 'classification' | 'regression';

/** logits [B, numLabels]; labels: class ids (int32 [B]) or targets (float32 [B]). Call inside tf.tidy. */
export function taskLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, taskType: TaskType): tf.Scalar {
  if (taskType === 'regression') {
    const preds = tf.reshape(logits, [-1]);
    return tf.mean(tf.squaredDifference(preds, tf.cast(labels, 'float32'))) as tf.Scalar;
  }
  const numLabels = logits.shape[1];
  const oneHot = tf.oneHot(tf.cast(labels, 'int32'), numLabels);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}
