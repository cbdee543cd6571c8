// BERT / RoBERTa encoder with a sequence-classification head, one readable forward pass.
// Parameters are named exactly as the Hugging Face checkpoint keys, so loading and exporting are a walk over names.
// Layout note: Linear weights are kept transposed, [in, out], so every projection is a plain x·W (PyTorch stores
// [out, in]); `LINEAR_WEIGHT` is the one list of keys that need that transpose, applied on load and undone on export.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.ts';
import type { EncodedBatch, ForwardOptions, ForwardOutput, HostTensor, LoadReport, StateDict } from './types.ts';
import { gaussianInit } from './init.ts';
import * as fast from './kernels/wasm-kernels.ts';
import { dropoutMultipliers, randomSeed } from './kernels/dropout-hash.ts';

/** Keys (by suffix pattern) of Linear weights: stored [in, out] internally, [out, in] in checkpoints. */
const LINEAR_WEIGHT = /(\.(query|key|value|dense|out_proj)\.weight|^classifier\.weight)$/;

export class ModelLoadError extends Error {
  readonly code = 'INVALID_CHECKPOINT';
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

/** The parameter names and Hugging Face shapes of a *ForSequenceClassification model with this config. */
export function expectedParameters(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: h, intermediateSize: f, numLabels } = config;
  const p = config.modelType;
  const shapes = new Map<string, number[]>();
  shapes.set(`${p}.embeddings.word_embeddings.weight`, [config.vocabSize, h]);
  shapes.set(`${p}.embeddings.position_embeddings.weight`, [config.maxPositions, h]);
  shapes.set(`${p}.embeddings.token_type_embeddings.weight`, [config.typeVocabSize, h]);
  shapes.set(`${p}.embeddings.LayerNorm.weight`, [h]);
  shapes.set(`${p}.embeddings.LayerNorm.bias`, [h]);
  for (let i = 0; i < config.numLayers; i++) {
    const l = `${p}.encoder.layer.${i}`;
    for (const proj of ['query', 'key', 'value']) {
      shapes.set(`${l}.attention.self.${proj}.weight`, [h, h]);
      shapes.set(`${l}.attention.self.${proj}.bias`, [h]);
    }
    shapes.set(`${l}.attention.output.dense.weight`, [h, h]);
    shapes.set(`${l}.attention.output.dense.bias`, [h]);
    shapes.set(`${l}.attention.output.LayerNorm.weight`, [h]);
    shapes.set(`${l}.attention.output.LayerNorm.bias`, [h]);
    shapes.set(`${l}.intermediate.dense.weight`, [f, h]);
    shapes.set(`${l}.intermediate.dense.bias`, [f]);
    shapes.set(`${l}.output.dense.weight`, [h, f]);
    shapes.set(`${l}.output.dense.bias`, [h]);
    shapes.set(`${l}.output.LayerNorm.weight`, [h]);
    shapes.set(`${l}.output.LayerNorm.bias`, [h]);
  }
  if (p === 'bert') {
    shapes.set('bert.pooler.dense.weight', [h, h]);
    shapes.set('bert.pooler.dense.bias', [h]);
    shapes.set('classifier.weight', [numLabels, h]);
    shapes.set('classifier.bias', [numLabels]);
  } else {
    shapes.set('classifier.dense.weight', [h, h]);
    shapes.set('classifier.dense.bias', [h]);
    shapes.set('classifier.out_proj.weight', [numLabels, h]);
    shapes.set('classifier.out_proj.bias', [numLabels]);
  }
  return shapes;
}

/** Keys that a base checkpoint (BertModel, BertForMaskedLM, ...) may lack: they are initialised fresh. */
function isTaskHeadKey(key: string): boolean {
  return key.startsWith('classifier.') || key.includes('.pooler.');
}

function transpose2d(t: HostTensor): HostTensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return { shape: [cols, rows], data: out };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Inputs as tensors (for callers that already hold them on the backend). */
export interface TensorInputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds?: tf.Tensor2D;
  /** Position ids [B, T]; computed from inputIds when absent. */
  positionIds?: tf.Tensor2D;
}

/** Per-call options of one encoder layer. */
export interface LayerOptions {
  training?: boolean;
  /** Seeds dropout (per step): each dropout site derives its own seed from it, so a step can be replayed exactly. */
  dropoutSeed?: number;
  /** [H] multiplier of this layer's attention probabilities. */
  headMask?: tf.Tensor1D;
  overrides?: ReadonlyMap<string, tf.Tensor>;
}

export interface LayerOutput {
  hidden: tf.Tensor2D;
  /** [B, H, T, d] */
  headOutputs: tf.Tensor4D;
}

export class EncoderModel {
  readonly config: ModelConfig;
  /** Checkpoint key → tensor in internal layout (Linear weights [in, out]). */
  private readonly params = new Map<string, tf.Tensor>();
  /** Per layer: the query/key/value weights [C, 3C] and biases [3C] side by side, built on first use (fast path). */
  private readonly fusedQkv = new Map<number, { w: tf.Tensor; b: tf.Tensor }>();
  private disposed = false;

  private constructor(config: ModelConfig) {
    this.config = config;
  }

  /**
   * Builds a model from canonical Hugging Face keys (see expectedParameters). Missing task-head / pooler keys are
   * initialised fresh (normal(0, initializer_range), biases 0) and reported; unknown keys are reported as unused;
   * a missing encoder key or any shape mismatch stops the load.
   */
  static fromStateDict(config: ModelConfig, weights: StateDict, opts: { seed?: number } = {}): { model: EncoderModel; report: LoadReport } {
    const expected = expectedParameters(config);
    const report: LoadReport = { newlyInitialized: [], unused: [] };
    const missingEncoder: string[] = [];
    for (const key of weights.keys()) if (!expected.has(key)) report.unused.push(key);
    const model = new EncoderModel(config);
    const init = gaussianInit(opts.seed ?? 42);
    try {
      for (const [key, shape] of expected) {
        let t = weights.get(key);
        if (t && !sameShape(t.shape, shape)) {
          // A task head with another label count is not an error: it is replaced, as HF does with ignore_mismatched_sizes.
          if (isTaskHeadKey(key) && key.startsWith('classifier.')) {
            report.unused.push(key);
            t = undefined;
          } else {
            throw new ModelLoadError(`shape mismatch for ${key}: checkpoint has [${t.shape}], model expects [${shape}]`);
          }
        }
        if (!t) {
          if (!isTaskHeadKey(key)) { missingEncoder.push(key); continue; }
          report.newlyInitialized.push(key);
          const isWeight = key.endsWith('.weight') && shape.length === 2;
          t = { shape, data: isWeight ? init(shape[0] * shape[1], config.initializerRange) : new Float32Array(shape.reduce((a, b) => a * b, 1)) };
        }
        const internal = LINEAR_WEIGHT.test(key) ? transpose2d(t) : t;
        model.params.set(key, tf.tensor(internal.data, internal.shape, 'float32'));
      }
      if (missingEncoder.length > 0) {
        const shown = missingEncoder.slice(0, 5).join(', ');
        throw new ModelLoadError(`checkpoint lacks ${missingEncoder.length} encoder parameter(s): ${shown}${missingEncoder.length > 5 ? ', …' : ''}`);
      }
    } catch (err) {
      model.dispose();
      throw err;
    }
    report.unused.sort();
    return { model, report };
  }

  /** A parameter in internal layout (Linear weights [in, out]). */
  param(key: string): tf.Tensor {
    const t = this.params.get(key);
    if (!t) throw new Error(`no parameter named ${key}`);
    return t;
  }

  paramNames(): string[] {
    return [...this.params.keys()];
  }

  numParams(filter?: (key: string) => boolean): number {
    let n = 0;
    for (const [k, t] of this.params) if (!filter || filter(k)) n += t.size;
    return n;
  }

  /** Replaces a parameter (internal layout); the old tensor is disposed. Used to apply trained slices. */
  setParam(key: string, value: tf.Tensor): void {
    const old = this.params.get(key);
    if (!old) throw new Error(`no parameter named ${key}`);
    if (!sameShape(old.shape, value.shape)) throw new Error(`setParam(${key}): shape [${value.shape}] != [${old.shape}]`);
    this.params.set(key, tf.keep(value));
    if (old !== value) old.dispose();
    if (key.includes('.attention.self.')) this.dropFusedQkv();
  }

  /** All parameters back in Hugging Face layout, read to host memory. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [key, t] of this.params) {
      const host: HostTensor = { shape: [...t.shape], data: t.dataSync() as Float32Array };
      out.set(key, LINEAR_WEIGHT.test(key) ? transpose2d(host) : { shape: host.shape, data: new Float32Array(host.data) });
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.dropFusedQkv();
    this.disposed = true;
  }

  private dropFusedQkv(): void {
    for (const { w, b } of this.fusedQkv.values()) tf.dispose([w, b]);
    this.fusedQkv.clear();
  }

  /** Upload a host batch as tensors (RoBERTa position ids are computed on the host, skipping padding). */
  inputsFromBatch(batch: EncodedBatch): TensorInputs {
    const { batchSize: B, seqLen: T } = batch;
    const positions = new Int32Array(B * T);
    const pad = this.config.padTokenId;
    for (let b = 0; b < B; b++) {
      let count = 0;
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        if (this.config.modelType === 'roberta') {
          // HF create_position_ids_from_input_ids: cumsum over non-pad tokens, offset by padding_idx; pads get padding_idx.
          if (batch.inputIds[i] !== pad) { count++; positions[i] = count + pad; } else positions[i] = pad;
        } else positions[i] = t;
      }
    }
    if (T > this.config.maxPositions - (this.config.modelType === 'roberta' ? pad + 1 : 0)) {
      throw new Error(`sequence length ${T} exceeds the model's ${this.config.maxPositions} positions`);
    }
    return {
      inputIds: tf.tensor2d(batch.inputIds, [B, T], 'int32'),
      attentionMask: tf.tensor2d(batch.attentionMask, [B, T], 'int32'),
      tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [B, T], 'int32'),
      positionIds: tf.tensor2d(positions, [B, T], 'int32'),
    };
  }

  /** Embeddings: word + position + token type, LayerNorm, dropout → [B·T, hidden]. */
  embed(inputs: TensorInputs, opts: LayerOptions = {}): tf.Tensor2D {
    const P = this.lookup(opts.overrides);
    const e = `${this.config.modelType}.embeddings`;
    const [B, T] = inputs.inputIds.shape;
    const positionIds = inputs.positionIds ?? tf.tile(tf.reshape(tf.range(0, T, 1, 'int32'), [1, T]), [B, 1]) as tf.Tensor2D;
    const tokenTypeIds = inputs.tokenTypeIds ?? tf.zeros([B, T], 'int32') as tf.Tensor2D;
    const gather = fast.fastKernelEnabled('gather') ? fast.gatherRows : (table: tf.Tensor, ids: tf.Tensor) => tf.gather(table, tf.reshape(ids, [-1]));
    const words = gather(P(`${e}.word_embeddings.weight`), inputs.inputIds);
    const positions = gather(P(`${e}.position_embeddings.weight`), positionIds);
    const types = gather(P(`${e}.token_type_embeddings.weight`), tokenTypeIds);
    const x = this.layerNorm(tf.add(tf.add(words, positions), types), P(`${e}.LayerNorm.weight`), P(`${e}.LayerNorm.bias`));
    return this.dropout(x, this.config.hiddenDropout, opts, 0) as tf.Tensor2D;
  }

  /** Additive attention mask [B, 1, 1, T]: 0 for real tokens, the most negative float32 for padding (as HF). */
  extendedMask(attentionMask: tf.Tensor2D): tf.Tensor4D {
    const [B, T] = attentionMask.shape;
    const inverted = tf.sub(1, tf.cast(attentionMask, 'float32'));
    return tf.reshape(tf.mul(inverted, -3.4028234663852886e38), [B, 1, 1, T]) as tf.Tensor4D;
  }

  /** One encoder layer on x [B·T, hidden]. */
  layer(i: number, x: tf.Tensor2D, mask: tf.Tensor4D, shape: { batchSize: number; seqLen: number }, opts: LayerOptions = {}): LayerOutput {
    const P = this.lookup(opts.overrides);
    const l = `${this.config.modelType}.encoder.layer.${i}`;

    // self-attention → per-head outputs (B, H, T, d) and the merged context (B·T, C)
    const { headOutputs, context } = this.useFastAttention(mask, shape)
      ? this.fastSelfAttention(i, x, mask, shape, opts)
      : this.selfAttention(i, x, mask, shape, opts);

    // attention output: dense, dropout, residual, LayerNorm
    const attn = this.dropout(this.linear(context, P(`${l}.attention.output.dense.weight`), P(`${l}.attention.output.dense.bias`)), this.config.hiddenDropout, opts, 2 + 3 * i);
    const h = this.layerNorm(tf.add(attn, x), P(`${l}.attention.output.LayerNorm.weight`), P(`${l}.attention.output.LayerNorm.bias`)) as tf.Tensor2D;

    // feed-forward: dense, exact GELU, dense, dropout, residual, LayerNorm
    const inter = this.gelu(this.linear(h, P(`${l}.intermediate.dense.weight`), P(`${l}.intermediate.dense.bias`)));
    const out = this.dropout(this.linear(inter, P(`${l}.output.dense.weight`), P(`${l}.output.dense.bias`)), this.config.hiddenDropout, opts, 3 + 3 * i);
    const hidden = this.layerNorm(tf.add(out, h), P(`${l}.output.LayerNorm.weight`), P(`${l}.output.LayerNorm.bias`)) as tf.Tensor2D;
    return { hidden, headOutputs };
  }

  /** Self-attention with plain tfjs ops (any backend): project, split heads, scaled dot product, merge. */
  private selfAttention(i: number, x: tf.Tensor2D, mask: tf.Tensor4D, shape: { batchSize: number; seqLen: number }, opts: LayerOptions): { headOutputs: tf.Tensor4D; context: tf.Tensor2D } {
    const P = this.lookup(opts.overrides);
    const { numHeads: H, headDim: d, hiddenSize: C } = this.config;
    const { batchSize: B, seqLen: T } = shape;
    const l = `${this.config.modelType}.encoder.layer.${i}`;
    const split = (t: tf.Tensor2D) => tf.transpose(tf.reshape(t, [B, T, H, d]), [0, 2, 1, 3]) as tf.Tensor4D; // (B, H, T, d)
    const q = split(this.linear(x, P(`${l}.attention.self.query.weight`), P(`${l}.attention.self.query.bias`)));
    const k = split(this.linear(x, P(`${l}.attention.self.key.weight`), P(`${l}.attention.self.key.bias`)));
    const v = split(this.linear(x, P(`${l}.attention.self.value.weight`), P(`${l}.attention.self.value.bias`)));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)), mask); // (B, H, T, T)
    let probs = this.dropout(tf.softmax(scores), this.config.attentionDropout, opts, 1 + 3 * i);
    if (opts.headMask) probs = tf.mul(probs, tf.reshape(opts.headMask, [1, H, 1, 1]));
    const headOutputs = tf.matMul(probs, v) as tf.Tensor4D; // (B, H, T, d)
    const context = tf.reshape(tf.transpose(headOutputs, [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D; // merge heads (B·T, C)
    return { headOutputs, context };
  }

  /** The wasm attention kernel handles this call: wasm backend, head size a multiple of 4, a float32 [B, 1, 1, T] mask. */
  private useFastAttention(mask: tf.Tensor, shape: { batchSize: number; seqLen: number }): boolean {
    return fast.fastKernelEnabled('attention') && this.config.headDim % 4 === 0 && mask.size === shape.batchSize * shape.seqLen && mask.dtype === 'float32';
  }

  /**
   * Self-attention through the fused kernels: one [C, 3C] projection to Q|K|V (B·T, 3C), then one kernel for all
   * heads that writes the merged context (B·T, C) directly. Same math as selfAttention.
   */
  private fastSelfAttention(i: number, x: tf.Tensor2D, mask: tf.Tensor4D, shape: { batchSize: number; seqLen: number }, opts: LayerOptions): { headOutputs: tf.Tensor4D; context: tf.Tensor2D } {
    const { numHeads: H, headDim: d } = this.config;
    const { batchSize: B, seqLen: T } = shape;
    const { w, b } = this.qkvProjection(i, opts.overrides);
    const qkv = this.linear(x, w, b); // (B·T, 3C)
    const rate = opts.training ? this.config.attentionDropout : 0;
    const heads = { batchSize: B, seqLen: T, numHeads: H, headDim: d };
    const context = fast.attention(qkv, mask, opts.headMask, heads, { rate, seed: this.siteSeed(opts, 1 + 3 * i) });
    const headOutputs = fast.splitHeads(context, heads); // (B, H, T, d)
    return { headOutputs, context };
  }

  /** Query, key and value weights [C, 3C] and biases [3C] side by side; cached unless one of them is overridden. */
  private qkvProjection(i: number, overrides?: ReadonlyMap<string, tf.Tensor>): { w: tf.Tensor; b: tf.Tensor } {
    const s = `${this.config.modelType}.encoder.layer.${i}.attention.self`;
    const keys = ['query', 'key', 'value'].flatMap((p) => [`${s}.${p}.weight`, `${s}.${p}.bias`]);
    const overridden = overrides !== undefined && keys.some((k) => overrides.has(k));
    if (!overridden) {
      const cached = this.fusedQkv.get(i);
      if (cached) return cached;
    }
    const P = this.lookup(overrides);
    const w = tf.concat([P(keys[0]), P(keys[2]), P(keys[4])], 1);
    const b = tf.concat([P(keys[1]), P(keys[3]), P(keys[5])], 0);
    if (overridden) return { w, b };
    const fused = { w: tf.keep(w), b: tf.keep(b) };
    this.fusedQkv.set(i, fused);
    return fused;
  }

  /** Task head on the first token of each sequence: BERT pooler + classifier, RoBERTa classification head. */
  taskHead(lastHidden: tf.Tensor3D, opts: LayerOptions = {}): tf.Tensor2D {
    const P = this.lookup(opts.overrides);
    const [B, , C] = lastHidden.shape;
    const first = tf.reshape(tf.slice(lastHidden, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D;
    const drop = this.config.classifierDropout;
    if (this.config.modelType === 'bert') {
      const pooled = tf.tanh(this.linear(first, P('bert.pooler.dense.weight'), P('bert.pooler.dense.bias')));
      return this.linear(this.dropout(pooled, drop, opts, 10_000) as tf.Tensor2D, P('classifier.weight'), P('classifier.bias'));
    }
    const x = tf.tanh(this.linear(this.dropout(first, drop, opts, 10_000) as tf.Tensor2D, P('classifier.dense.weight'), P('classifier.dense.bias')));
    return this.linear(this.dropout(x, drop, opts, 10_001) as tf.Tensor2D, P('classifier.out_proj.weight'), P('classifier.out_proj.bias'));
  }

  /** The whole forward pass. Synchronous: call inside tf.tidy. */
  forward(batch: EncodedBatch | TensorInputs, opts: ForwardOptions = {}): ForwardOutput {
    const { numLayers: L, numHeads: H, hiddenSize: C } = this.config;
    const inputs = 'batchSize' in batch ? this.inputsFromBatch(batch) : batch;
    const [B, T] = inputs.inputIds.shape;
    const layerOpts: LayerOptions = { training: opts.training, dropoutSeed: opts.dropoutSeed, overrides: opts.overrides };
    const headMask = opts.headMask ? (opts.headMask.rank === 1 ? tf.tile(tf.reshape(opts.headMask, [1, H]), [L, 1]) : opts.headMask) : undefined;
    if (headMask && (headMask.shape[0] !== L || headMask.shape[1] !== H)) throw new Error(`headMask must be [${H}] or [${L}, ${H}], got [${opts.headMask?.shape}]`);

    const mask = this.extendedMask(inputs.attentionMask);
    let x = this.embed(inputs, layerOpts);
    const headOutputs: tf.Tensor4D[] = [];
    const hiddenStates: tf.Tensor3D[] = [];
    if (opts.outputHiddenStates) hiddenStates.push(tf.reshape(x, [B, T, C]));
    for (let i = 0; i < L; i++) {
      const layerHeadMask = headMask ? (tf.reshape(tf.slice(headMask, [i, 0], [1, H]), [H]) as tf.Tensor1D) : undefined;
      const out = this.layer(i, x, mask, { batchSize: B, seqLen: T }, { ...layerOpts, headMask: layerHeadMask });
      x = out.hidden;
      if (opts.outputHeadOutputs) headOutputs.push(out.headOutputs);
      if (opts.outputHiddenStates) hiddenStates.push(tf.reshape(x, [B, T, C]));
    }
    const lastHiddenState = tf.reshape(x, [B, T, C]) as tf.Tensor3D;
    const logits = opts.skipTaskHead ? undefined : this.taskHead(lastHiddenState, layerOpts);
    return {
      lastHiddenState,
      logits,
      headOutputs: opts.outputHeadOutputs ? headOutputs : undefined,
      hiddenStates: opts.outputHiddenStates ? hiddenStates : undefined,
    };
  }

  private lookup(overrides?: ReadonlyMap<string, tf.Tensor>): (key: string) => tf.Tensor {
    if (this.disposed) throw new Error('model is disposed');
    return overrides && overrides.size > 0 ? (key) => overrides.get(key) ?? this.param(key) : (key) => this.param(key);
  }

  private linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
    if (fast.fastKernelEnabled('linear')) return fast.linear(x, w, b);
    return tf.add(tf.matMul(x, w as tf.Tensor2D), b) as tf.Tensor2D;
  }

  private gelu<T extends tf.Tensor>(x: T): T {
    return fast.fastKernelEnabled('gelu') ? fast.gelu(x) : gelu(x);
  }

  private layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
    if (fast.fastKernelEnabled('layerNorm')) return fast.layerNorm(x, gamma, beta, this.config.layerNormEps);
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.config.layerNormEps)));
    return tf.add(tf.mul(normed, gamma), beta);
  }

  /** The seed of one dropout site in this call: derived from opts.dropoutSeed, or fresh when none is given. */
  private siteSeed(opts: LayerOptions, site: number): number {
    return opts.dropoutSeed === undefined ? randomSeed() : opts.dropoutSeed * 100_003 + site;
  }

  /**
   * Dropout with the counter-hash mask of dropout-hash.ts, on every backend alike, so the fast and the reference
   * paths drop the same elements for the same seed.
   */
  private dropout(x: tf.Tensor, rate: number, opts: LayerOptions, site: number): tf.Tensor {
    if (!opts.training || rate <= 0) return x;
    const seed = this.siteSeed(opts, site);
    if (fast.fastKernelEnabled('dropout')) return fast.dropout(x, rate, seed);
    return tf.mul(x, tf.tensor(dropoutMultipliers(x.size, rate, seed), x.shape, 'float32'));
  }
}

/** GELU with the exact erf form: x · ½ · (1 + erf(x / √2)). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as T;
}
