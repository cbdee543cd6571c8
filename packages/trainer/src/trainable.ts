// The trainable part of a model: tf.Variables for the selected heads' slices (one variable per layer and
// projection, holding the columns/rows of every selected head side by side) plus the whole task head, or every
// parameter for the `full` strategy. Nothing else has a variable, a gradient or optimiser state.
//
// Slices: a selected layer's query weight is rebuilt on every step as concat(frozen block, variable block,
// frozen block, …) along its head axis and passed to the model through `overrides`, so gradients reach only the
// variable blocks. The frozen blocks are cut once, kept, and reused.
// Whole tensors (task head; everything under `full`) are handed to the model as variables (model.setParam),
// so the model trains them in place and keeps owning them (no second copy); they are listed in `overrides` too.
import * as tf from '@tensorflow/tfjs-core';
import type { EncoderModel, HostTensor, ModelConfig, StateDict } from '@hifi/engine';
import { headSlices, normalizeHeads, type HeadRef } from './head-slices.ts';
import { TrainingConfigError } from './errors.ts';

/**
 * Learning-rate groups: 'heads' = the selected heads' slices; 'encoder' = every other encoder parameter (only
 * under `full`); 'taskHead' = pooler and classifier.
 */
export type ParamGroup = 'heads' | 'encoder' | 'taskHead';

export interface TrainableVariable {
  /** Stable name, used as the checkpoint key: a checkpoint key, or `<key>@heads=<h,h,…>` for a slice group. */
  readonly name: string;
  readonly variable: tf.Variable;
  readonly group: ParamGroup;
  /** Decoupled weight decay applies: tensors with 2 or more dims (not biases, not LayerNorm). */
  readonly decay: boolean;
}

export interface TrainableSpec {
  /** `heads`: the given heads' slices (plus task head); `full`: every parameter. */
  mode: 'heads' | 'full';
  heads?: readonly HeadRef[];
  /** Also train each selected head's rows of attention.output.dense.weight. Default true (as the job contract). */
  trainOutputProjection?: boolean;
}

type Segment = { frozen: tf.Tensor } | { from: number; size: number };

interface SliceGroup {
  key: string;
  axis: 0 | 1;
  segments: Segment[];
  trainable: TrainableVariable;
}

/** Pooler and classifier parameters: always trained, created fresh for a base checkpoint. */
export function isTaskHeadKey(key: string): boolean {
  return key.startsWith('classifier.') || key.includes('.pooler.');
}

/** Index of the encoder layer a key belongs to; -1 for embeddings; Infinity for the task head. */
export function layerOfKey(config: ModelConfig, key: string): number {
  if (isTaskHeadKey(key)) return Number.POSITIVE_INFINITY;
  const m = /\.encoder\.layer\.(\d+)\./.exec(key);
  if (m) return Number(m[1]);
  if (key.includes('.embeddings.')) return -1;
  throw new Error(`cannot place parameter ${key} in ${config.modelType} layers`);
}

export class TrainableSet {
  readonly variables: TrainableVariable[] = [];
  readonly heads: HeadRef[];
  readonly mode: 'heads' | 'full';
  readonly trainOutputProjection: boolean;
  /** -1 when the embeddings train; numLayers when no encoder layer trains (task head only). */
  readonly lowestTrainableLayer: number;
  private readonly groups: SliceGroup[] = [];
  /** Variables handed to the model (owned by it from then on). */
  private readonly handedOver = new Set<tf.Variable>();
  private committed = false;
  private disposed = false;

  private constructor(private readonly model: EncoderModel, spec: TrainableSpec) {
    const config = model.config;
    this.mode = spec.mode;
    this.trainOutputProjection = spec.trainOutputProjection ?? true;
    this.heads = spec.mode === 'full' ? [] : normalizeHeads(config, spec.heads ?? []);
    if (spec.mode === 'full') {
      this.lowestTrainableLayer = -1;
    } else {
      this.lowestTrainableLayer = this.heads.length > 0 ? Math.min(...this.heads.map((h) => h[0])) : config.numLayers;
    }
  }

  /** Creates the variables. The model's parameters for whole tensors are replaced by the variables. */
  static create(model: EncoderModel, spec: TrainableSpec): TrainableSet {
    if (spec.mode !== 'heads' && spec.mode !== 'full') throw new TrainingConfigError('mode', `expected "heads" or "full", got ${JSON.stringify(spec.mode)}`);
    const set = new TrainableSet(model, spec);
    try {
      if (spec.mode === 'full') {
        for (const key of model.paramNames()) set.addWhole(key, isTaskHeadKey(key) ? 'taskHead' : 'encoder');
      } else {
        set.addSliceGroups();
        for (const key of model.paramNames()) if (isTaskHeadKey(key)) set.addWhole(key, 'taskHead');
      }
    } catch (err) {
      set.dispose();
      throw err;
    }
    return set;
  }

  private addWhole(key: string, group: ParamGroup): void {
    const variable = tf.variable(this.model.param(key), true);
    this.model.setParam(key, variable);
    this.handedOver.add(variable);
    this.variables.push({ name: key, variable, group, decay: variable.rank >= 2 });
  }

  private addSliceGroups(): void {
    const config = this.model.config;
    const byKey = new Map<string, { axis: 0 | 1; heads: number[] }>();
    for (const s of headSlices(config, this.heads, { trainOutputProjection: this.trainOutputProjection })) {
      const g = byKey.get(s.key) ?? { axis: s.axis, heads: [] };
      g.heads.push(s.head);
      byKey.set(s.key, g);
    }
    const d = config.headDim;
    for (const [key, { axis, heads }] of byKey) {
      const full = this.model.param(key);
      const width = full.shape[axis] as number;
      const sliceAlong = (start: number, size: number): tf.Tensor => {
        const begin = full.shape.map((_, i) => (i === axis ? start : 0));
        const len = full.shape.map((n, i) => (i === axis ? size : n));
        return tf.slice(full, begin, len);
      };
      // Runs of adjacent selected heads become one variable block; the gaps become frozen blocks.
      const segments: Segment[] = [];
      const varParts: tf.Tensor[] = [];
      let cursor = 0;
      let varOffset = 0;
      for (let i = 0; i < heads.length; ) {
        let j = i;
        while (j + 1 < heads.length && heads[j + 1] === heads[j] + 1) j++;
        const start = heads[i] * d;
        const size = (j - i + 1) * d;
        if (start > cursor) segments.push({ frozen: sliceAlong(cursor, start - cursor) });
        segments.push({ from: varOffset, size });
        varParts.push(sliceAlong(start, size));
        varOffset += size;
        cursor = start + size;
        i = j + 1;
      }
      if (cursor < width) segments.push({ frozen: sliceAlong(cursor, width - cursor) });
      const initial = varParts.length === 1 ? varParts[0] : tf.concat(varParts, axis);
      const variable = tf.variable(initial, true);
      tf.dispose(varParts);
      if (initial !== varParts[0]) initial.dispose();
      const trainable: TrainableVariable = { name: `${key}@heads=${heads.join(',')}`, variable, group: 'heads', decay: variable.rank >= 2 };
      this.variables.push(trainable);
      this.groups.push({ key, axis, segments, trainable });
    }
  }

  /** Number of trainable parameters. */
  numParams(group?: ParamGroup): number {
    return this.variables.filter((v) => !group || v.group === group).reduce((n, v) => n + v.variable.size, 0);
  }

  /**
   * The `overrides` for the model's forward pass: every sliced parameter rebuilt from frozen blocks and variable
   * blocks, and every whole-tensor variable. Call inside tf.tidy (and inside the gradient function, so the concat
   * is differentiated).
   */
  overrides(): Map<string, tf.Tensor> {
    this.checkUsable();
    const out = new Map<string, tf.Tensor>();
    // Whole-tensor variables are the model's own parameters already; listing them anyway keeps the model from
    // using anything it derived from them earlier (e.g. a cached fused Q|K|V weight) instead of the live values.
    for (const v of this.variables) if (this.handedOver.has(v.variable)) out.set(v.name, v.variable);
    for (const g of this.groups) {
      const v = g.trainable.variable;
      const parts = g.segments.map((s) => {
        if ('frozen' in s) return s.frozen;
        if (s.from === 0 && s.size === v.shape[g.axis]) return v;
        const begin = v.shape.map((_, i) => (i === g.axis ? s.from : 0));
        const len = v.shape.map((n, i) => (i === g.axis ? s.size : n));
        return tf.slice(v, begin, len);
      });
      out.set(g.key, parts.length === 1 ? parts[0] : tf.concat(parts, g.axis));
    }
    return out;
  }

  /** Current values, by trainable name, in internal layout (host copies). */
  async readState(): Promise<StateDict> {
    this.checkUsable();
    const out: StateDict = new Map();
    for (const v of this.variables) out.set(v.name, { shape: [...v.variable.shape], data: (await v.variable.data()) as Float32Array });
    return out;
  }

  /** Sets every variable from a state read by readState (names and shapes must match). */
  loadState(state: ReadonlyMap<string, HostTensor>, source = 'trainable state'): void {
    this.checkUsable();
    for (const v of this.variables) {
      const t = state.get(v.name);
      if (!t) throw new TrainingConfigError(source, `lacks trainable tensor ${v.name}`);
      if (t.shape.length !== v.variable.rank || t.shape.some((n, i) => n !== v.variable.shape[i])) {
        throw new TrainingConfigError(source, `tensor ${v.name} has shape [${t.shape}], expected [${v.variable.shape}]`);
      }
    }
    for (const v of this.variables) {
      const t = state.get(v.name)!;
      tf.tidy(() => v.variable.assign(tf.tensor(t.data, t.shape, 'float32')));
    }
  }

  /**
   * Writes the trained slices into the model's parameters (whole tensors are already there) and releases the
   * variables and frozen blocks. The set is unusable afterwards; the model holds the result.
   */
  commit(): void {
    this.checkUsable();
    const keys = this.groups.map((g) => g.key);
    // clone: an override can be the variable itself (a layer with every head selected), which is disposed below.
    const merged = tf.tidy(() => {
      const o = this.overrides();
      return keys.map((k) => tf.clone(o.get(k)!));
    });
    keys.forEach((key, i) => this.model.setParam(key, merged[i]));
    this.committed = true;
    this.dispose();
  }

  /** Frees the slice variables and frozen blocks (not the whole-tensor variables, which the model owns). */
  dispose(): void {
    if (this.disposed) return;
    for (const g of this.groups) {
      for (const s of g.segments) if ('frozen' in s) s.frozen.dispose();
      g.trainable.variable.dispose();
    }
    this.disposed = true;
  }

  private checkUsable(): void {
    if (this.disposed) throw new Error(this.committed ? 'TrainableSet was committed into the model' : 'TrainableSet is disposed');
  }
}
