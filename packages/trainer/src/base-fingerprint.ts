// The identity of a base model: a hash of its architecture and encoder weights (embeddings and layers, Hugging Face
// layout), leaving out the task head (pooler/classifier), which fine-tuning replaces. An adapter records it, and
// applyAdapter refuses a base whose fingerprint differs. The same value goes into the head report.
import type { ModelConfig, StateDict } from '@hifi/engine';
import { fingerprintWeights } from '@hifi/hifi';
import { isTaskHeadKey } from './trainable.ts';

/** The config fields that shape the encoder (labels and other task-head fields are left out). */
export function architectureOf(config: ModelConfig): Record<string, unknown> {
  return {
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositions,
    type_vocab_size: config.typeVocabSize,
    layer_norm_eps: config.layerNormEps,
    pad_token_id: config.padTokenId,
  };
}

/** sha256 (hex) of the architecture and every non-task-head tensor of a state dict in HF layout. */
export function baseModelFingerprint(config: ModelConfig, stateDict: StateDict): string {
  const encoder = [...stateDict].filter(([k]) => !isTaskHeadKey(k)).map(([k, t]) => [k, t] as const);
  return fingerprintWeights(architectureOf(config), encoder);
}
