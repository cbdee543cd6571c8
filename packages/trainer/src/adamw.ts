// AdamW (Loshchilov & Hutter): Adam moments plus weight decay applied to the weights directly, as
// torch.optim.AdamW does:  p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
//                          p ← p − lr · m̂ / (√v̂ + ε)  with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
// Decay only for variables flagged `decay` (tensors with ≥ 2 dims). Moments are created once, at construction,
// so the tensor count does not change from step to step; dispose() frees them.
import * as tf from '@tensorflow/tfjs-core';
import type { StateDict } from '@hifi/engine';
import type { ParamGroup, TrainableVariable } from './trainable.ts';
import { TrainingConfigError } from './errors.ts';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/** A non-trainable zero variable (the zeros tensor it is made from is released: the variable holds the data). */
function zerosVariable(shape: number[]): tf.Variable {
  const zeros = tf.zeros(shape);
  const v = tf.variable(zeros, false);
  zeros.dispose();
  return v;
}

interface Slot {
  param: TrainableVariable;
  m: tf.Variable;
  v: tf.Variable;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Number of updates applied so far (t of the bias correction). */
  step = 0;
  private readonly slots: Slot[];

  constructor(params: readonly TrainableVariable[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.slots = params.map((param) => ({ param, m: zerosVariable(param.variable.shape), v: zerosVariable(param.variable.shape) }));
  }

  /**
   * One update. `grads` by variable name (tf.Variable.name); `lr` gives the learning rate of a group.
   * Synchronous; call inside tf.tidy. Variables without a gradient are left alone (their moments too).
   */
  apply(grads: Readonly<Record<string, tf.Tensor | null | undefined>>, lr: (group: ParamGroup) => number): void {
    this.step++;
    const t = this.step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    for (const { param, m, v } of this.slots) {
      const g = grads[param.variable.name];
      if (!g) continue;
      const rate = lr(param.group);
      const p = param.variable;
      const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
      const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
      m.assign(m1);
      v.assign(v1);
      const decayed = param.decay && this.weightDecay > 0 ? tf.mul(p, 1 - rate * this.weightDecay) : p;
      const update = tf.div(tf.div(m1, c1), tf.add(tf.sqrt(tf.div(v1, c2)), this.epsilon));
      p.assign(tf.sub(decayed, tf.mul(update, rate)));
    }
  }

  /** The moments as host tensors, keyed `m/<name>` and `v/<name>` by trainable name. */
  async readState(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const { param, m, v } of this.slots) {
      out.set(`m/${param.name}`, { shape: [...m.shape], data: (await m.data()) as Float32Array });
      out.set(`v/${param.name}`, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return out;
  }

  loadState(step: number, moments: StateDict, source = 'optimizer state'): void {
    if (!Number.isInteger(step) || step < 0) throw new TrainingConfigError(source, `step must be a non-negative integer, got ${step}`);
    for (const { param, m } of this.slots) {
      for (const k of [`m/${param.name}`, `v/${param.name}`]) {
        const t = moments.get(k);
        if (!t) throw new TrainingConfigError(source, `lacks moment ${k}`);
        if (t.shape.length !== m.rank || t.shape.some((n, i) => n !== m.shape[i])) throw new TrainingConfigError(source, `moment ${k} has shape [${t.shape}], expected [${m.shape}]`);
      }
    }
    for (const { param, m, v } of this.slots) {
      const mt = moments.get(`m/${param.name}`)!;
      const vt = moments.get(`v/${param.name}`)!;
      tf.tidy(() => {
        m.assign(tf.tensor(mt.data, mt.shape, 'float32'));
        v.assign(tf.tensor(vt.data, vt.shape, 'float32'));
      });
    }
    this.step = step;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.length = 0;
  }
}

/**
 * Scales gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_: coefficient
 * maxNorm / (norm + 1e-6), capped at 1). Returns the clipped gradients and the norm before clipping.
 * Synchronous; call inside tf.tidy.
 */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return { grads, norm };
  const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.mul(grads[n], coef);
  return { grads: out, norm };
}
