// Shapes shared across the engine: host-side tensors, encoded inputs, the tokenizer and model contracts.
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.ts';

/** A tensor in host memory, float32, row-major, in Hugging Face (PyTorch) layout: Linear weights are [out, in]. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Named host tensors keyed by Hugging Face checkpoint key (e.g. "bert.encoder.layer.0.attention.self.query.weight"). */
export type StateDict = Map<string, HostTensor>;

/** A tokenised, padded batch (row-major [batch, seqLen]). */
export interface EncodedBatch {
  batchSize: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Int32Array;
  /** All zeros for RoBERTa. */
  tokenTypeIds: Int32Array;
}

/** One tokenised example before padding. */
export interface EncodedExample {
  inputIds: number[];
  tokenTypeIds: number[];
}

export interface TokenizeOptions {
  /** Truncate each example to at most this many tokens, special tokens included (longest-first for pairs). */
  maxLength?: number;
}

export interface Tokenizer {
  readonly kind: 'wordpiece' | 'bpe';
  readonly padTokenId: number;
  encode(text: string, textPair?: string | null, opts?: TokenizeOptions): EncodedExample;
  /** Encodes and pads to the longest example of the batch. */
  encodeBatch(items: { text: string; textPair?: string | null }[], opts?: TokenizeOptions): EncodedBatch;
  /** Files to copy next to an exported model (absolute paths). */
  readonly files: string[];
}

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation, the default). */
  training?: boolean;
  /** Seeds dropout for this call (the trainer passes one per step so a resumed run replays it exactly). */
  dropoutSeed?: number;
  /** Multiplies the attention probabilities after softmax: shape [numHeads] or [numLayers, numHeads] (1 keeps, 0 masks). */
  headMask?: tf.Tensor;
  /** Return each layer's per-head outputs softmax(QKᵀ/√d + mask)·V, before the output projection: [B, H, T, d]. */
  outputHeadOutputs?: boolean;
  /** Return the hidden state after the embeddings and after each layer. */
  outputHiddenStates?: boolean;
  /**
   * Parameters to use instead of the model's own, by checkpoint key, in the model's internal layout
   * (see EncoderModel.param). The trainer passes trainable tensors here so gradients flow to them.
   */
  overrides?: ReadonlyMap<string, tf.Tensor>;
  /** Skip the task head (pooler/classifier); logits are then undefined. */
  skipTaskHead?: boolean;
}

export interface ForwardOutput {
  lastHiddenState: tf.Tensor3D;
  /** [B, numLabels]; for regression numLabels is 1. */
  logits?: tf.Tensor2D;
  /** Per layer, [B, H, T, d]. */
  headOutputs?: tf.Tensor4D[];
  /** numLayers + 1 entries, [B, T, hidden]. */
  hiddenStates?: tf.Tensor3D[];
}

export interface LoadReport {
  /** Model parameters absent from the checkpoint, initialised fresh (normal(0, initializer_range), biases 0). */
  newlyInitialized: string[];
  /** Checkpoint tensors the model does not use (e.g. cls.predictions.* of a BertForMaskedLM). */
  unused: string[];
}

export type { ModelConfig };
