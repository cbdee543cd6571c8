import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadStatistics, maskFromLengths, type BatchMask } from './headStatistics.ts';
import { ExampleGrams } from './exampleGrams.ts';
import { assertClose, gaussian } from './testSupport.ts';

/** Builds a [B, H, T, d] head-output buffer from a per-(b, h, t, k) function. */
function outputs(B: number, H: number, T: number, d: number, f: (b: number, h: number, t: number, k: number) => number): Float32Array {
  const out = new Float32Array(B * H * T * d);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let k = 0; k < d; k++) out[((b * H + h) * T + t) * d + k] = f(b, h, t, k);
  return out;
}

test('richness of a head with known centred singular values (√2 + √8)', () => {
  // Head 0 over 4 tokens: rows [1,0], [-1,0], [0,2], [0,-2]: mean 0, OᵀO = diag(2, 8). A 5th padded token holds junk.
  const rows = [[1, 0], [-1, 0], [0, 2], [0, -2], [99, -99]];
  const stats = new HeadStatistics({ numLayers: 1, numHeads: 1, headDim: 2 });
  stats.addBatch([outputs(1, 1, 5, 2, (_b, _h, t, k) => rows[t][k])], maskFromLengths([4], 5));
  assertClose(stats.richness(0)[0], Math.SQRT2 + Math.sqrt(8), 1e-9, 'richness');
  // Shifting every token by a constant vector does not change the centred output.
  const shifted = new HeadStatistics({ numLayers: 1, numHeads: 1, headDim: 2 });
  shifted.addBatch([outputs(1, 1, 5, 2, (_b, _h, t, k) => rows[t][k] + (k === 0 ? 5 : -3))], maskFromLengths([4], 5));
  assertClose(shifted.richness(0)[0], Math.SQRT2 + Math.sqrt(8), 1e-9, 'richness after shift');
});

test('RV is 1 for identical heads, ~0 for independent random heads, and 1 on the diagonal', () => {
  const T = 4000;
  const d = 4;
  const g = gaussian(3);
  const base = Float64Array.from({ length: T * d }, g);
  const other = Float64Array.from({ length: T * d }, g);
  // heads: 0 = base, 1 = base (identical), 2 = independent
  const out = outputs(1, 3, T, d, (_b, h, t, k) => (h === 2 ? other[t * d + k] : base[t * d + k]));
  const stats = new HeadStatistics({ numLayers: 1, numHeads: 3, headDim: d });
  stats.addBatch([out], maskFromLengths([T], T));
  const rv = stats.correlation(0);
  for (let h = 0; h < 3; h++) assert.equal(rv[h * 3 + h], 1);
  assertClose(rv[0 * 3 + 1], 1, 1e-6, 'RV(identical)');
  assert.equal(rv[0 * 3 + 1], rv[1 * 3 + 0]);
  // For independent d-dim Gaussians, E[RV] ≈ d/T·… ≈ 1e-3 here.
  assert.ok(rv[0 * 3 + 2] < 0.01, `RV(independent) = ${rv[0 * 3 + 2]}`);
});

test('RV is invariant to an orthogonal rotation of one head (and to scaling)', () => {
  const T = 30;
  const d = 3;
  const g = gaussian(5);
  const a = Float64Array.from({ length: T * d }, g);
  const noise = Float64Array.from({ length: T * d }, g);
  const b = a.map((v, i) => v + 0.7 * noise[i]); // correlated with a, not identical
  // Rotation about the z axis by 0.9 rad, then about x by 0.4 rad.
  const [c1, s1, c2, s2] = [Math.cos(0.9), Math.sin(0.9), Math.cos(0.4), Math.sin(0.4)];
  const rz = [c1, -s1, 0, s1, c1, 0, 0, 0, 1];
  const rx = [1, 0, 0, 0, c2, -s2, 0, s2, c2];
  const r = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[i * 3 + j] += rz[i * 3 + k] * rx[k * 3 + j];
  const rotated = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) rotated[t * d + j] += 3 * b[t * d + k] * r[k * d + j];
  const plain = new HeadStatistics({ numLayers: 1, numHeads: 2, headDim: d });
  plain.addBatch([outputs(1, 2, T, d, (_b, h, t, k) => (h === 0 ? a : b)[t * d + k])], maskFromLengths([T], T));
  const rot = new HeadStatistics({ numLayers: 1, numHeads: 2, headDim: d });
  rot.addBatch([outputs(1, 2, T, d, (_b, h, t, k) => (h === 0 ? a : rotated)[t * d + k])], maskFromLengths([T], T));
  const rv = plain.correlation(0)[1];
  assert.ok(rv > 0.2 && rv < 0.99, `RV should be strictly between: ${rv}`);
  assertClose(rot.correlation(0)[1], rv, 1e-5, 'RV after rotation');
  // Richness is rotation invariant and scales linearly.
  assertClose(rot.richness(0)[1], 3 * plain.richness(0)[1], 1e-4, 'richness of 3·rotated head');
});

function randomBatch(B: number, L: number, H: number, T: number, d: number, lengths: number[], seed: number): { outs: Float32Array[]; mask: BatchMask } {
  const g = gaussian(seed);
  const outs = Array.from({ length: L }, () => outputs(B, H, T, d, () => g()));
  return { outs, mask: maskFromLengths(lengths, T) };
}

/** Copies examples [from, to) of a [B, H, T, d] buffer, cropping the token axis to T2 (≥ longest kept example). */
function slice(out: Float32Array, H: number, T: number, d: number, from: number, to: number, T2: number): Float32Array {
  const res = new Float32Array((to - from) * H * T2 * d);
  for (let b = from; b < to; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T2; t++) for (let k = 0; k < d; k++) {
    res[(((b - from) * H + h) * T2 + t) * d + k] = out[((b * H + h) * T + t) * d + k];
  }
  return res;
}

test('streaming over batches equals one-shot accumulation; 1-token examples are skipped', () => {
  const [L, H, T, d] = [2, 3, 9, 4];
  const lengths = [9, 5, 1, 7, 2, 6];
  const { outs, mask } = randomBatch(lengths.length, L, H, T, d, lengths, 21);
  const oneShot = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
  oneShot.addBatch(outs, mask);
  const streamed = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
  for (const [from, to] of [[0, 2], [2, 3], [3, 6]]) {
    const T2 = Math.max(...lengths.slice(from, to));
    streamed.addBatch(outs.map((o) => slice(o, H, T, d, from, to, T2)), maskFromLengths(lengths.slice(from, to), T2));
  }
  assert.deepEqual(oneShot.summary(), { examplesSeen: 6, examplesUsed: 5, examplesSkipped: 1, tokensUsed: 9 + 5 + 7 + 2 + 6 });
  assert.deepEqual(streamed.summary(), oneShot.summary());
  for (let l = 0; l < L; l++) {
    oneShot.richness(l).forEach((v, h) => assertClose(streamed.richness(l)[h], v, 1e-9, `richness L${l}H${h}`));
    oneShot.correlation(l).forEach((v, k) => assertClose(streamed.correlation(l)[k], v, 1e-12, `rv L${l}[${k}]`));
  }
  // The means are means over the used examples: check one value against per-example accumulators.
  const perExample = lengths.map((len, b) => {
    const s = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
    s.addBatch(outs.map((o) => slice(o, H, T, d, b, b + 1, len)), maskFromLengths([len], len));
    return s;
  }).filter((s) => s.summary().examplesUsed === 1);
  const mean = perExample.reduce((acc, s) => acc + s.richness(1)[2], 0) / perExample.length;
  assertClose(oneShot.richness(1)[2], mean, 1e-9, 'mean of per-example richness');
});

test('a head whose centred output is zero has RV 0 with the others and 1 with itself', () => {
  const stats = new HeadStatistics({ numLayers: 1, numHeads: 2, headDim: 2 });
  const g = gaussian(1);
  stats.addBatch([outputs(1, 2, 5, 2, (_b, h) => (h === 0 ? 4 : g()))], maskFromLengths([5], 5));
  assert.deepEqual([...stats.correlation(0)], [1, 0, 0, 1]);
  assert.equal(stats.richness(0)[0], 0);
});

test('wrong shapes are rejected with messages that name the field', () => {
  const stats = new HeadStatistics({ numLayers: 2, numHeads: 2, headDim: 2 });
  const mask = maskFromLengths([3], 3);
  assert.throws(() => stats.addBatch([new Float32Array(12)], mask), /head outputs for 1 layers, expected 2/);
  assert.throws(() => stats.addBatch([new Float32Array(12), new Float32Array(11)], mask), /layer 1 head output has 11 values/);
  assert.throws(() => stats.addBatch([new Float32Array(12), new Float32Array(12)], { batchSize: 1, seqLen: 3, attentionMask: [1, 1] }), /attentionMask has 2 values/);
  assert.throws(() => stats.addBatchReference([new Float32Array(12)], mask), /addBatchReference: got head outputs for 1 layers, expected 2/);
  assert.throws(() => new HeadStatistics({ numLayers: 0, numHeads: 2, headDim: 2 }), /numLayers must be a positive integer/);
  assert.throws(() => new HeadStatistics({ numLayers: 1, numHeads: 2, headDim: 2 }, { eigenSolver: 'lapack' as never }), /eigenSolver must be 'ql' or 'jacobi'/);
  assert.throws(() => maskFromLengths([4], 3), /lengths\[0\]=4/);
});

/** [B, H, T, d] outputs whose heads share a common component (so RV is far from 0 and 1); padding holds junk. */
function correlatedBatch(B: number, L: number, H: number, T: number, d: number, seed: number): Float32Array[] {
  const g = gaussian(seed);
  return Array.from({ length: L }, () => {
    const common = Float64Array.from({ length: B * T * d }, g);
    return outputs(B, H, T, d, (b, h, t, k) => common[(b * T + t) * d + k] * (0.5 + 0.4 * h) + g() + 0.2 * k);
  });
}

function assertSameStatistics(a: HeadStatistics, b: HeadStatistics, rel: number, what: string): void {
  assert.deepEqual(a.summary(), b.summary(), `${what}: summaries`);
  for (let l = 0; l < a.numLayers; l++) {
    b.richness(l).forEach((v, h) => assertClose(a.richness(l)[h] / v, 1, rel, `${what}: richness L${l}H${h}`));
    b.correlation(l).forEach((v, k) => assertClose(a.correlation(l)[k], v, rel, `${what}: RV L${l}[${k}]`));
  }
}

test('the fast host path equals the reference (full (H·d)² Gram + Jacobi) in every Gram space and cross route', () => {
  // H = 3, d = 4: eigenvalues in token space for T_e ≤ 4, cross terms through the token Grams up to T_e = 8, and
  // through the feature blocks above.
  assert.equal(ExampleGrams.crossViaTokens(8, 3, 4), true);
  assert.equal(ExampleGrams.crossViaTokens(9, 3, 4), false);
  const cases: { H: number; d: number; T: number; lengths: number[] }[] = [
    { H: 3, d: 4, T: 12, lengths: [12, 9, 8, 5, 4, 3, 2, 1] },
    { H: 1, d: 5, T: 7, lengths: [7, 3, 2] },
    { H: 8, d: 16, T: 40, lengths: [40, 17, 16, 12, 2] },
  ];
  for (const [i, { H, d, T, lengths }] of cases.entries()) {
    const L = 2;
    const outs = correlatedBatch(lengths.length, L, H, T, d, 50 + i);
    const mask = maskFromLengths(lengths, T);
    const reference = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
    reference.addBatchReference(outs, mask);
    for (const kernel of ['wasm', 'js'] as const) {
      const fast = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { kernel });
      assert.equal(fast.kernel, kernel, `the ${kernel} kernel is available`);
      fast.addBatch(outs, mask);
      assertSameStatistics(fast, reference, 1e-10, `case ${i}, ${kernel} kernel`);
    }
    const jacobi = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { eigenSolver: 'jacobi' });
    jacobi.addBatch(outs, mask);
    assertSameStatistics(jacobi, reference, 1e-10, `case ${i} with Jacobi`);
    if (H > 1) {
      const rv = reference.correlation(0)[1];
      assert.ok(rv > 0.05 && rv < 0.999, `case ${i}: the data should give a non-trivial RV, got ${rv}`);
    }
  }
});

test('real tokens anywhere in the row: left padding and holes give the same statistics as the packed example', () => {
  const [L, H, T, d] = [1, 2, 6, 3];
  const packed = correlatedBatch(1, L, H, T, d, 9);
  // Same 4 real tokens at positions 1, 2, 4, 5 of a row whose other positions hold junk.
  const positions = [1, 2, 4, 5];
  const spread = outputs(1, H, T, d, (_b, h, t, k) => (positions.includes(t) ? packed[0][(h * T + positions.indexOf(t)) * d + k] : 1000 + t));
  for (const kernel of ['wasm', 'js'] as const) {
    const a = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { kernel });
    a.addBatch(packed, maskFromLengths([4], T));
    const b = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { kernel });
    b.addBatch([spread], { batchSize: 1, seqLen: T, attentionMask: [0, 1, 1, 0, 1, 1] });
    assertSameStatistics(b, a, 1e-12, `holes, ${kernel} kernel`);
  }
});

test('the wasm and JS kernels agree on realistic shapes (8 heads of 16, lengths 1 to 70, one batch after another)', () => {
  const [L, H, d] = [2, 8, 16];
  const wasm = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { kernel: 'wasm' });
  const js = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { kernel: 'js' });
  for (const lengths of [[3, 1, 9, 16, 5], [70, 40, 17, 2, 33], [12, 12, 12]]) {
    const T = Math.max(...lengths);
    const outs = correlatedBatch(lengths.length, L, H, T, d, T);
    wasm.addBatch(outs, maskFromLengths(lengths, T));
    js.addBatch(outs, maskFromLengths(lengths, T));
  }
  assertSameStatistics(wasm, js, 1e-12, 'wasm vs js');
});

test("the accumulator's memory does not depend on the number of examples", () => {
  const [L, H, T, d] = [2, 4, 24, 8];
  const memoryAfter = (n: number, kernel: 'wasm' | 'js') => {
    const stats = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d }, { kernel });
    const g = gaussian(n);
    for (let seen = 0; seen < n; seen += 32) {
      // Every batch has one example of the full length T, the rest vary, so the longest example is the same.
      const lengths = Array.from({ length: 32 }, (_, i) => (i === 0 ? T : 2 + Math.floor(Math.abs(g()) * 7) % (T - 1)));
      stats.addBatch(Array.from({ length: L }, () => outputs(32, H, T, d, () => g())), maskFromLengths(lengths, T));
    }
    assert.equal(stats.summary().examplesSeen, n);
    return stats.memory();
  };
  for (const kernel of ['wasm', 'js'] as const) {
    const small = memoryAfter(64, kernel);
    const large = memoryAfter(1024, kernel);
    assert.deepEqual(large, small, `${kernel} kernel`);
    assert.equal(small.accumulatorBytes, 8 * (L * H + L * H * H + L), 'L·H richness sums, L·H² RV sums, L counts (float64)');
    // JS: a few arrays sized by the longest example; wasm: its memory, sized by the largest batch (B·T values).
    assert.ok(small.scratchBytes > 0 && small.scratchBytes < 1024 * 1024, `${kernel} scratch ${small.scratchBytes} B`);
  }
});
