// EncoderModel against the reference outputs of the shared fixtures, on both of its paths: the fast wasm kernels
// (kernels/wasm-kernels.ts) and the plain-tfjs reference path. Gradients of the fast path are checked against the
// reference path's (tfjs' own gradients) and against finite differences; tensor counts must not grow.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';
import { parseConfig } from './config.ts';
import type { ModelConfig } from './config.ts';
import { EncoderModel } from './model.ts';
import { readSafetensors } from './safetensors.ts';
import type { EncodedBatch } from './types.ts';
import { FAST_KERNELS, fastKernelsAvailable, gatherRows, setFastKernelEnabled, setFastKernelsEnabled } from './kernels/wasm-kernels.ts';
import { loadTfjsGradients } from './kernels/testing-gradients.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
const TOL = 1e-4;

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  last_hidden_state: number[][][];
  logits: number[][];
  head_output_norms: number[][][];
}

interface Fixture { name: string; config: ModelConfig; model: EncoderModel; expected: Expected }

const fixtures: Fixture[] = [];

before(async () => {
  await initBackend({ prefer: 'wasm' }); // the fast kernels are wasm kernels: test them there even if a native backend is installed
  await loadTfjsGradients();
  for (const name of ['tiny-bert', 'tiny-roberta']) {
    const dir = join(SHARED, 'fixtures', name);
    const config = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), `${name}/config.json`);
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    const { model } = EncoderModel.fromStateDict(config, tensors);
    fixtures.push({ name, config, model, expected: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected });
  }
});

after(() => {
  setFastKernelsEnabled(true);
  for (const f of fixtures) f.model.dispose();
});

/** The fixture batch, or example b alone without its padding (right-padded inputs). */
function batchOf(e: Expected, only?: number): EncodedBatch {
  const rows = only === undefined ? e.input_ids.map((_, b) => b) : [only];
  const lengths = rows.map((b) => (only === undefined ? e.input_ids[b].length : e.attention_mask[b].reduce((a, v) => a + v, 0)));
  const T = Math.max(...lengths);
  const pick = (m: number[][] | undefined) => Int32Array.from(rows.flatMap((b) => (m ? m[b].slice(0, T) : new Array<number>(T).fill(0))));
  return { batchSize: rows.length, seqLen: T, inputIds: pick(e.input_ids), attentionMask: pick(e.attention_mask), tokenTypeIds: pick(e.token_type_ids) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Checks last_hidden_state, logits and head-output norms of the expected examples `rows` against one forward pass. */
function checkAgainstExpected(f: Fixture, only?: number): void {
  const e = f.expected;
  const batch = batchOf(e, only);
  const rows = only === undefined ? e.input_ids.map((_, b) => b) : [only];
  const { hiddenSize: C, numHeads: H, headDim: d, numLayers: L } = f.config;
  const T = batch.seqLen;
  const [lhs, logits, ...heads] = tf.tidy(() => {
    const o = f.model.forward(batch, { outputHeadOutputs: true });
    return [o.lastHiddenState, o.logits!, ...o.headOutputs!];
  });
  const got = lhs.dataSync();
  const gotLogits = logits.dataSync();
  const headData = heads.map((h) => h.dataSync());
  tf.dispose([lhs, logits, ...heads]);
  rows.forEach((b, r) => {
    const len = e.attention_mask[b].reduce((a, v) => a + v, 0);
    // compare the real tokens (padding positions are not specified by the reference)
    const want: number[] = [];
    const have: number[] = [];
    for (let t = 0; t < len; t++) for (let c = 0; c < C; c++) { want.push(e.last_hidden_state[b][t][c]); have.push(got[(r * T + t) * C + c]); }
    assert.ok(maxAbsDiff(have, want) < TOL, `${f.name} example ${b}: last_hidden_state differs by ${maxAbsDiff(have, want)}`);
    const ld = maxAbsDiff(Array.from(gotLogits.subarray(r * f.config.numLabels, (r + 1) * f.config.numLabels)), e.logits[b]);
    assert.ok(ld < TOL, `${f.name} example ${b}: logits differ by ${ld}`);
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        let s = 0;
        for (let t = 0; t < len; t++) for (let k = 0; k < d; k++) s += headData[l][((r * H + h) * T + t) * d + k] ** 2;
        const diff = Math.abs(Math.sqrt(s) - e.head_output_norms[l][b][h]);
        assert.ok(diff < TOL, `${f.name} layer ${l} example ${b} head ${h}: head output norm differs by ${diff}`);
      }
    }
  });
}

for (const path of ['fast', 'reference'] as const) {
  describe(`forward on the fixtures (${path} path)`, () => {
    before(() => setFastKernelsEnabled(path === 'fast'));
    after(() => setFastKernelsEnabled(true));

    test('the fast kernels are active on wasm exactly when enabled', () => {
      assert.equal(tf.getBackend(), 'wasm', 'the tests expect the wasm backend here');
      assert.equal(fastKernelsAvailable(), path === 'fast');
    });

    for (const name of ['tiny-bert', 'tiny-roberta']) {
      test(`${name}: padded batch matches expected.json`, () => {
        checkAgainstExpected(fixtures.find((f) => f.name === name)!);
      });
      test(`${name}: each example alone matches expected.json`, () => {
        const f = fixtures.find((x) => x.name === name)!;
        for (let b = 0; b < f.expected.input_ids.length; b++) checkAgainstExpected(f, b);
      });
    }

    test('masking a head zeroes its head output and changes the layer output', () => {
      const f = fixtures[0];
      const { numLayers: L, numHeads: H } = f.config;
      const batch = batchOf(f.expected);
      const maskRows = Array.from({ length: L * H }, (_, i) => (i === 1 || i === H + 2 ? 0 : 1));
      const [masked, plain, hidden, plainHidden] = tf.tidy(() => {
        const m = f.model.forward(batch, { outputHeadOutputs: true, headMask: tf.tensor2d(maskRows, [L, H]) });
        const p = f.model.forward(batch, { outputHeadOutputs: true });
        return [tf.stack(m.headOutputs!), tf.stack(p.headOutputs!), m.lastHiddenState, p.lastHiddenState];
      });
      const mh = masked.arraySync() as number[][][][][];
      const ph = plain.arraySync() as number[][][][][];
      for (let l = 0; l < L; l++) {
        for (let h = 0; h < H; h++) {
          const flat = mh[l].flatMap((ex) => ex[h].flat());
          const maxAbs = Math.max(...flat.map(Math.abs));
          if (maskRows[l * H + h] === 0) assert.equal(maxAbs, 0, `layer ${l} head ${h} is masked but its output is not zero`);
          else assert.ok(maxAbs > 0, `layer ${l} head ${h} should be live`);
        }
      }
      // layer 0's unmasked heads see the same inputs as without the mask
      assert.ok(maxAbsDiff(mh[0][0][0].flat(), ph[0][0][0].flat()) < 1e-6);
      assert.ok(maxAbsDiff(hidden.dataSync(), plainHidden.dataSync()) > 1e-3, 'masking heads must change the output');
      tf.dispose([masked, plain, hidden, plainHidden]);
    });

    test('a [H] head mask equals the same row for every layer', () => {
      const f = fixtures[1];
      const { numLayers: L, numHeads: H } = f.config;
      const batch = batchOf(f.expected);
      const row = Array.from({ length: H }, (_, h) => (h % 3 === 0 ? 0 : 1));
      const [a, b] = tf.tidy(() => [
        f.model.forward(batch, { headMask: tf.tensor1d(row) }).lastHiddenState,
        f.model.forward(batch, { headMask: tf.tensor2d(Array.from({ length: L }, () => row).flat(), [L, H]) }).lastHiddenState,
      ]);
      assert.ok(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-6);
      tf.dispose([a, b]);
    });
  });
}

test('each fast kernel can be switched off alone and the fixtures still match', () => {
  for (const kernel of FAST_KERNELS) {
    setFastKernelEnabled(kernel, false);
    try {
      for (const f of fixtures) checkAgainstExpected(f);
    } finally {
      setFastKernelEnabled(kernel, true);
    }
  }
});

/** Loss of a forward pass that reaches the logits, the first layer's head outputs and the hidden states. */
function lossOf(f: Fixture, batch: EncodedBatch, overrides: Map<string, tf.Tensor>, headMask: tf.Tensor, training: boolean): tf.Scalar {
  const o = f.model.forward(batch, { overrides, training, dropoutSeed: 11, headMask, outputHeadOutputs: true });
  const logits = o.logits!;
  const weights = tf.reshape(tf.range(1, 1 + logits.size), logits.shape);
  return tf.add(tf.sum(tf.mul(logits, weights)), tf.mul(0.01, tf.sum(tf.square(o.headOutputs![0])))) as tf.Scalar;
}

/** Parameters whose gradients exercise every fast kernel: QKV (fused projection + attention), dense, GELU, LayerNorm. */
function trainableKeys(config: ModelConfig): string[] {
  const p = config.modelType;
  return [
    `${p}.encoder.layer.0.attention.self.query.weight`, `${p}.encoder.layer.0.attention.self.key.bias`,
    `${p}.encoder.layer.0.attention.self.value.weight`, `${p}.encoder.layer.0.attention.output.dense.weight`,
    `${p}.encoder.layer.1.intermediate.dense.weight`, `${p}.encoder.layer.0.output.dense.weight`, `${p}.encoder.layer.1.output.LayerNorm.weight`,
    `${p}.embeddings.LayerNorm.bias`,
  ];
}

function gradients(f: Fixture, fastPath: boolean, training: boolean, vars: tf.Variable[], keys: string[], headMask: tf.Variable): Float32Array[] {
  setFastKernelsEnabled(fastPath);
  try {
    const batch = batchOf(f.expected);
    const out = tf.tidy(() => {
      const overrides = new Map<string, tf.Tensor>(keys.map((k, i) => [k, vars[i]]));
      const { value, grads } = tf.variableGrads(() => lossOf(f, batch, overrides, headMask, training), [...vars, headMask]);
      return [value, ...[...vars, headMask].map((v) => grads[v.name])];
    });
    const data = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
    return data;
  } finally {
    setFastKernelsEnabled(true);
  }
}

describe('gradients of the fast kernels', () => {
  for (const training of [false, true]) {
    test(`match the reference path's gradients (${training ? 'training, with dropout' : 'evaluation'})`, () => {
      for (const f of fixtures) {
        const keys = trainableKeys(f.config);
        const vars = keys.map((k) => tf.variable(f.model.param(k).clone()));
        const { numLayers: L, numHeads: H } = f.config;
        const headMask = tf.variable(tf.tensor2d(Array.from({ length: L * H }, (_, i) => 0.5 + (i % 3) * 0.4), [L, H]));
        const fastGrads = gradients(f, true, training, vars, keys, headMask);
        const refGrads = gradients(f, false, training, vars, keys, headMask);
        const names = ['loss', ...keys, 'headMask'];
        fastGrads.forEach((g, i) => {
          const scale = Math.max(1, ...Array.from(refGrads[i], Math.abs));
          const diff = maxAbsDiff(g, refGrads[i]);
          assert.ok(diff < 1e-5 * scale, `${f.name} ${names[i]}: fast and reference gradients differ by ${diff} (scale ${scale})`);
          assert.ok(refGrads[i].some((v) => v !== 0), `${f.name} ${names[i]}: gradient is all zero`);
        });
        tf.dispose([...vars, headMask]);
      }
    });
  }

  test('match finite differences along a random direction', () => {
    const f = fixtures[1];
    const batch = batchOf(f.expected);
    const key = `${f.config.modelType}.encoder.layer.0.attention.self.query.weight`;
    const w = f.model.param(key);
    const { numLayers: L, numHeads: H } = f.config;
    const headMask = tf.variable(tf.ones([L, H]));
    const dir = tf.randomNormal(w.shape, 0, 1, 'float32', 5);
    const v = tf.variable(w.clone());
    const analytic = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => lossOf(f, batch, new Map([[key, v as tf.Tensor]]), headMask, false), [v]);
      value.dispose();
      return tf.sum(tf.mul(grads[v.name], dir)).dataSync()[0];
    });
    const eps = 1e-2;
    const at = (s: number) => tf.tidy(() => lossOf(f, batch, new Map([[key, tf.add(w, tf.mul(dir, s))]]), headMask, false).dataSync()[0]);
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    assert.ok(Math.abs(numeric - analytic) < 2e-2 * Math.max(1, Math.abs(analytic)), `directional derivative: analytic ${analytic}, numeric ${numeric}`);
    tf.dispose([headMask, dir, v]);
  });
});

test('embedding lookups scatter-add their gradient into the table rows (tf.gather has no gradient kernel on wasm)', () => {
  assert.ok(fastKernelsAvailable());
  const V = 7, C = 4;
  const ids = [3, 0, 3, 6, 3, 1];
  const w = Array.from({ length: ids.length * C }, (_, i) => (i % 5) - 2 + i / 10);
  const table = tf.variable(tf.randomNormal([V, C], 0, 1, 'float32', 3));
  const grad = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(gatherRows(table, tf.tensor1d(ids, 'int32')), tf.tensor2d(w, [ids.length, C]))) as tf.Scalar, [table]);
    value.dispose();
    return grads[table.name];
  });
  const want = new Float32Array(V * C);
  ids.forEach((r, i) => { for (let c = 0; c < C; c++) want[r * C + c] += w[i * C + c]; });
  assert.ok(maxAbsDiff(grad.dataSync(), want) < 1e-6);
  tf.dispose([grad, table]);
});

describe('dropout', () => {
  test('the same seed replays the same step, another seed does not, evaluation has none', () => {
    const f = fixtures[0];
    const batch = batchOf(f.expected);
    const run = (opts: { training: boolean; dropoutSeed?: number }) => tf.tidy(() => f.model.forward(batch, opts).lastHiddenState.dataSync());
    const a = run({ training: true, dropoutSeed: 3 });
    assert.equal(maxAbsDiff(a, run({ training: true, dropoutSeed: 3 })), 0);
    assert.ok(maxAbsDiff(a, run({ training: true, dropoutSeed: 4 })) > 1e-3);
    assert.ok(maxAbsDiff(a, run({ training: false })) > 1e-3);
    assert.equal(maxAbsDiff(run({ training: false }), run({ training: false, dropoutSeed: 9 })), 0);
  });
});

describe('memory', () => {
  test('repeated forward passes and gradient steps do not grow the tensor count', () => {
    for (const f of fixtures) {
      const batch = batchOf(f.expected);
      const key = `${f.config.modelType}.encoder.layer.0.attention.self.query.weight`;
      const v = tf.variable(f.model.param(key).clone());
      const step = () => {
        tf.dispose(tf.tidy(() => f.model.forward(batch, { outputHeadOutputs: true, outputHiddenStates: true }).logits!));
        const grads = tf.tidy(() => {
          const { value, grads: g } = tf.variableGrads(() => tf.sum(f.model.forward(batch, { overrides: new Map([[key, v as tf.Tensor]]), training: true, dropoutSeed: 1 }).logits!) as tf.Scalar, [v]);
          value.dispose();
          return g;
        });
        tf.dispose(grads);
      };
      step(); // warm-up: builds the model's fused QKV weights once
      const before = tf.memory();
      for (let i = 0; i < 3; i++) step();
      assert.equal(tf.memory().numTensors, before.numTensors, `${f.name}: tensor count grew`);
      assert.equal(tf.memory().numDataBuffers, before.numDataBuffers, `${f.name}: backend buffer count grew`);
      assert.equal(tf.memory().numBytes, before.numBytes, `${f.name}: tensor bytes grew`);
      v.dispose();
    }
  });
});
