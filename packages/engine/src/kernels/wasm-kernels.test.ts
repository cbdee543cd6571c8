// The wasm kernels one by one against plain tfjs (or float64 host) computations, on shapes that hit their edge cases
// (sequence lengths that are not a multiple of the 8-column blocks, a single token, head sizes 4 … 64, padding),
// and the committed hifi-kernels.wasm against its AssemblyScript source.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.ts';
import { gelu as referenceGelu } from '../model.ts';
import { dropoutMultipliers } from './dropout-hash.ts';
import * as K from './wasm-kernels.ts';
import { loadTfjsGradients } from './testing-gradients.ts';

before(async () => {
  await initBackend({ prefer: 'wasm' }); // the fast kernels are wasm kernels: test them there even if a native backend is installed
  await loadTfjsGradients();
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(K.fastKernelsAvailable(), `fast kernels did not load: ${K.fastKernelsLoadFailure()}`);
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** erf in float64 by its Maclaurin series (|x| ≤ 3) or the continued fraction of erfc (beyond). */
function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax > 3) {
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
    return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
  }
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

test('the committed hifi-kernels.wasm was built from the committed hifi-kernels.as', async () => {
  // (the build records both hashes; `build-wasm.ts --check` recompiles and compares the bytes)
  const { KERNELS_BUILD_RECORD, KERNELS_SOURCE, KERNELS_WASM, sha256 } = await import('./build-wasm.ts');
  const record = JSON.parse(readFileSync(KERNELS_BUILD_RECORD, 'utf8')) as { sourceSha256: string; wasmSha256: string };
  assert.equal(sha256(readFileSync(KERNELS_SOURCE)), record.sourceSha256, 'hifi-kernels.as changed since the last build: run node --import tsx packages/engine/src/kernels/build-wasm.ts');
  assert.equal(sha256(readFileSync(KERNELS_WASM)), record.wasmSha256, 'hifi-kernels.wasm does not match its build record');
});

describe('elementwise kernels', () => {
  test('GELU and its derivative match float64 (exact erf) to 1e-6', () => {
    const xs = Array.from({ length: 4003 }, (_, i) => -10 + i * 0.005); // odd length: the scalar tail runs too
    const [y, dx] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      const dy = tf.onesLike(x);
      return [K.gelu(x), tf.engine().runKernel<tf.Tensor>(K.KERNEL_NAMES.geluGrad, { dy, x })];
    });
    const yv = y.dataSync();
    const dv = dx.dataSync();
    xs.forEach((x, i) => {
      const cdf = 0.5 * (1 + erf64(x / Math.SQRT2));
      assert.ok(Math.abs(yv[i] - x * cdf) < 1e-6 * Math.max(1, Math.abs(x)), `gelu(${x}) = ${yv[i]}, want ${x * cdf}`);
      const want = cdf + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI);
      assert.ok(Math.abs(dv[i] - want) < 1e-6, `gelu'(${x}) = ${dv[i]}, want ${want}`);
    });
    tf.dispose([y, dx]);
  });

  test('under a gradient tape GELU keeps its derivative from the forward pass, and it matches float64', () => {
    const xs = Array.from({ length: 1001 }, (_, i) => -6 + i * 0.012);
    const dx = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(K.gelu(x), 2)))(tf.tensor1d(xs)));
    const got = dx.dataSync();
    dx.dispose();
    xs.forEach((x, i) => {
      const want = 2 * (0.5 * (1 + erf64(x / Math.SQRT2)) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI));
      assert.ok(Math.abs(got[i] - want) < 2e-6, `2·gelu'(${x}) = ${got[i]}, want ${want}`);
    });
  });

  test('GELU matches the reference op on the model path', () => {
    const [a, b] = tf.tidy(() => { const x = tf.randomNormal([37, 53], 0, 3, 'float32', 1); return [K.gelu(x), referenceGelu(x)]; });
    assert.ok(maxAbsDiff(a.dataSync(), b.dataSync()) < 2e-6);
    tf.dispose([a, b]);
  });

  test('LayerNorm matches tfjs moments (rows of 64, 130 and 3 values)', () => {
    for (const C of [64, 130, 3]) {
      const [a, b] = tf.tidy(() => {
        const x = tf.randomNormal([17, C], 2, 5, 'float32', C);
        const g = tf.randomNormal([C], 1, 0.2, 'float32', 2);
        const beta = tf.randomNormal([C], 0, 0.2, 'float32', 3);
        const { mean, variance } = tf.moments(x, -1, true);
        const ref = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), beta);
        return [K.layerNorm(x, g, beta, 1e-5), ref];
      });
      assert.ok(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-5, `C=${C}`);
      tf.dispose([a, b]);
    }
  });

  test('dropout keeps about 1 − rate, scales by 1/(1 − rate), and equals the host multipliers', () => {
    const n = 100_003;
    const y = tf.tidy(() => K.dropout(tf.ones([n]), 0.1, 12345));
    const v = y.dataSync();
    y.dispose();
    const want = dropoutMultipliers(n, 0.1, 12345);
    assert.equal(maxAbsDiff(v, want), 0);
    const kept = v.filter((x) => x !== 0).length / n;
    assert.ok(Math.abs(kept - 0.9) < 0.005, `kept fraction ${kept}`);
    assert.ok(v.every((x) => x === 0 || Math.abs(x - 1 / 0.9) < 1e-6));
  });
});

describe('layout kernels', () => {
  test('transpose2d, permuteHeads, sumRows, gatherRows match tfjs', () => {
    for (const [R, C] of [[64, 128], [7, 5], [12, 40]]) {
      const [a, b, s1, s2] = tf.tidy(() => {
        const x = tf.randomNormal([R, C], 0, 1, 'float32', R) as tf.Tensor2D;
        return [K.transpose2d(x), tf.transpose(x), tf.engine().runKernel<tf.Tensor>(K.KERNEL_NAMES.sumRows, { x }), tf.sum(x, 0)];
      });
      assert.equal(maxAbsDiff(a.dataSync(), b.dataSync()), 0, `transpose ${R}x${C}`);
      assert.ok(maxAbsDiff(s1.dataSync(), s2.dataSync()) < 1e-4, `sumRows ${R}x${C}`);
      tf.dispose([a, b, s1, s2]);
    }
    const shape = { batchSize: 3, seqLen: 5, numHeads: 4, headDim: 8 };
    const [p, q] = tf.tidy(() => {
      const x = tf.randomNormal([15, 32], 0, 1, 'float32', 9) as tf.Tensor2D;
      return [K.splitHeads(x, shape), tf.transpose(tf.reshape(x, [3, 5, 4, 8]), [0, 2, 1, 3])];
    });
    assert.equal(maxAbsDiff(p.dataSync(), q.dataSync()), 0);
    tf.dispose([p, q]);
    const [g1, g2] = tf.tidy(() => {
      const table = tf.randomNormal([11, 6], 0, 1, 'float32', 4);
      const ids = tf.tensor2d([[3, 0, 10], [3, 7, 1]], [2, 3], 'int32');
      return [K.gatherRows(table, ids), tf.gather(table, tf.reshape(ids, [-1]))];
    });
    assert.equal(maxAbsDiff(g1.dataSync(), g2.dataSync()), 0);
    tf.dispose([g1, g2]);
    assert.throws(() => tf.tidy(() => K.gatherRows(tf.zeros([4, 2]), tf.tensor1d([1, 4], 'int32'))), /index 4 .*outside/);
  });
});

/** Attention with plain tfjs ops, as the model's reference path computes it. */
function referenceAttention(qkv: tf.Tensor2D, mask: tf.Tensor, headMask: tf.Tensor | undefined, B: number, T: number, H: number, d: number, multipliers?: Float32Array): tf.Tensor2D {
  const C = H * d;
  const part = (i: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, i * C], [-1, C]), [B, T, H, d]), [0, 2, 1, 3]);
  const scores = tf.add(tf.mul(tf.matMul(part(0), part(1), false, true), 1 / Math.sqrt(d)), tf.reshape(mask, [B, 1, 1, T]));
  let probs = tf.softmax(scores);
  if (multipliers) probs = tf.mul(probs, tf.tensor(multipliers, [B, H, T, T]));
  if (headMask) probs = tf.mul(probs, tf.reshape(headMask, [1, H, 1, 1]));
  return tf.reshape(tf.transpose(tf.matMul(probs, part(2)), [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
}

describe('attention kernel', () => {
  const cases = [
    { B: 2, T: 13, H: 3, d: 4 },
    { B: 1, T: 1, H: 2, d: 8 },
    { B: 3, T: 9, H: 2, d: 64 },
    { B: 2, T: 16, H: 4, d: 12 },
  ];
  for (const { B, T, H, d } of cases) {
    test(`forward and gradients match plain tfjs (B=${B}, T=${T}, H=${H}, d=${d}, padding, head mask, dropout)`, () => {
      const C = H * d;
      const shape = { batchSize: B, seqLen: T, numHeads: H, headDim: d };
      // example 0 unpadded, the others with their last 3 keys padded, and (when B = 3) example 2 entirely masked
      const masked = (b: number, t: number) => (b === 2 && B === 3) || (b >= 1 && T > 3 && t >= T - 3);
      const maskValues = Array.from({ length: B * T }, (_, i) => (masked(Math.floor(i / T), i % T) ? -3.4028234663852886e38 : 0));
      const mask = tf.tensor(maskValues, [B, 1, 1, T]);
      const headMask = tf.variable(tf.tensor1d(Array.from({ length: H }, (_, h) => [1, 0, 0.5][h % 3])));
      const qkv = tf.variable(tf.randomNormal([B * T, 3 * C], 0, 1, 'float32', T * d)) as tf.Variable<tf.Rank.R2>;
      const w = tf.randomNormal([B * T, C], 0, 1, 'float32', 77);
      for (const rate of [0, 0.2]) {
        const seed = 4242;
        const mult = rate > 0 ? dropoutMultipliers(B * H * T * T, rate, seed) : undefined;
        const run = (fast: boolean) => tf.tidy(() => {
          const f = () => tf.sum(tf.mul(fast ? K.attention(qkv, mask, headMask, shape, { rate, seed }) : referenceAttention(qkv, mask, headMask, B, T, H, d, mult), w)) as tf.Scalar;
          const { value, grads } = tf.variableGrads(f, [qkv, headMask]);
          const out = fast ? K.attention(qkv, mask, headMask, shape, { rate, seed }) : referenceAttention(qkv, mask, headMask, B, T, H, d, mult);
          return [out, value, grads[qkv.name], grads[headMask.name]];
        });
        const got = run(true);
        const want = run(false);
        const names = ['context', 'loss', 'dqkv', 'dheadMask'];
        got.forEach((t, i) => {
          const scale = Math.max(1, ...Array.from(want[i].dataSync(), Math.abs));
          const diff = maxAbsDiff(t.dataSync(), want[i].dataSync());
          assert.ok(diff < 2e-5 * scale, `${names[i]} (rate ${rate}) differs by ${diff}`);
        });
        tf.dispose([...got, ...want]);
      }
      tf.dispose([mask, headMask, qkv, w]);
    });
  }
});
