// The model configuration: a typed view of a Hugging Face config.json for BERT and RoBERTa.

export type ModelType = 'bert' | 'roberta';
export type ProblemType = 'single_label_classification' | 'regression';

export interface ModelConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** hiddenSize / numHeads */
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  hiddenDropout: number;
  attentionDropout: number;
  /** Pooler/classifier dropout; Hugging Face falls back to hiddenDropout when classifier_dropout is null. */
  classifierDropout: number;
  initializerRange: number;
  numLabels: number;
  problemType: ProblemType;
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  architectures: string[];
  /** The config.json object as read, kept so that exports write back every field the user had. */
  raw: Record<string, unknown>;
}

export class ConfigError extends Error {
  readonly code = 'INVALID_MODEL_CONFIG';
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'ConfigError';
  }
}

const REQUIRED = [
  'model_type', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
  'max_position_embeddings',
] as const;

function num(raw: Record<string, unknown>, key: string, source: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(source, `missing required field "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(source, `field "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses a config.json object. `source` names the file in error messages. */
export function parseConfig(json: unknown, source = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(source, 'expected a JSON object');
  const raw = json as Record<string, unknown>;
  for (const key of REQUIRED) if (raw[key] === undefined || raw[key] === null) throw new ConfigError(source, `missing required field "${key}"`);
  const modelType = raw.model_type;
  if (modelType !== 'bert' && modelType !== 'roberta') throw new ConfigError(source, `unsupported model_type ${JSON.stringify(modelType)} (supported: bert, roberta)`);
  const act = raw.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new ConfigError(source, `unsupported hidden_act ${JSON.stringify(act)} (supported: gelu)`);
  const hiddenSize = num(raw, 'hidden_size', source);
  const numHeads = num(raw, 'num_attention_heads', source);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(source, `hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);

  let id2label: Record<number, string> = {};
  if (raw.id2label && typeof raw.id2label === 'object') {
    for (const [k, v] of Object.entries(raw.id2label as Record<string, unknown>)) id2label[Number(k)] = String(v);
  }
  let numLabels = raw.num_labels !== undefined ? num(raw, 'num_labels', source) : Object.keys(id2label).length || 2;
  if (Object.keys(id2label).length === 0) for (let i = 0; i < numLabels; i++) id2label[i] = `LABEL_${i}`;
  numLabels = Object.keys(id2label).length;
  const label2id: Record<string, number> = {};
  for (const [k, v] of Object.entries(id2label)) label2id[v] = Number(k);
  const problemType: ProblemType = raw.problem_type === 'regression' || numLabels === 1 ? 'regression' : 'single_label_classification';
  const hiddenDropout = num(raw, 'hidden_dropout_prob', source, 0.1);

  return {
    modelType,
    vocabSize: num(raw, 'vocab_size', source),
    hiddenSize,
    numLayers: num(raw, 'num_hidden_layers', source),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: num(raw, 'intermediate_size', source),
    maxPositions: num(raw, 'max_position_embeddings', source),
    typeVocabSize: num(raw, 'type_vocab_size', source, modelType === 'roberta' ? 1 : 2),
    layerNormEps: num(raw, 'layer_norm_eps', source, 1e-12),
    padTokenId: num(raw, 'pad_token_id', source, modelType === 'roberta' ? 1 : 0),
    hiddenDropout,
    attentionDropout: num(raw, 'attention_probs_dropout_prob', source, 0.1),
    classifierDropout: num(raw, 'classifier_dropout', source, hiddenDropout),
    initializerRange: num(raw, 'initializer_range', source, 0.02),
    numLabels,
    problemType,
    id2label,
    label2id,
    architectures: Array.isArray(raw.architectures) ? raw.architectures.map(String) : [],
    raw,
  };
}

/** A copy of the config with a new label set (for a task head of another size). */
export function withLabels(config: ModelConfig, labels: string[] | 'regression'): ModelConfig {
  const id2label: Record<number, string> = {};
  if (labels === 'regression') id2label[0] = 'LABEL_0';
  else labels.forEach((l, i) => { id2label[i] = l; });
  const label2id: Record<string, number> = {};
  for (const [k, v] of Object.entries(id2label)) label2id[v] = Number(k);
  return { ...config, id2label, label2id, numLabels: Object.keys(id2label).length, problemType: labels === 'regression' ? 'regression' : 'single_label_classification' };
}

/** The config.json object to write next to exported weights. */
export function toConfigJson(config: ModelConfig): Record<string, unknown> {
  const arch = config.modelType === 'bert' ? 'BertForSequenceClassification' : 'RobertaForSequenceClassification';
  return {
    ...config.raw,
    architectures: [arch],
    model_type: config.modelType,
    num_labels: config.numLabels,
    id2label: Object.fromEntries(Object.entries(config.id2label).map(([k, v]) => [String(k), v])),
    label2id: config.label2id,
    problem_type: config.problemType,
  };
}
