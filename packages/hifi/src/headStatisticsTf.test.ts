import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@hifi/engine';
import { HeadStatistics, maskFromLengths } from './headStatistics.ts';
import { batchGramsTf, crossViaTokens, readBatchGrams } from './headStatisticsTf.ts';
import { gaussian } from './testSupport.ts';

before(async () => { await initBackend(); });

function relClose(a: number, b: number, rel: number, what: string): void {
  if (!(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)))) throw new Error(`${what}: device ${a} vs host ${b} (rel tol ${rel})`);
}

async function compare(L: number, H: number, T: number, d: number, lengths: number[], seed: number, expectSpace: 'token' | 'feature', expectCross: 'token' | 'feature') {
  const g = gaussian(seed);
  const B = lengths.length;
  // Heads share a common component so that correlations are far from 0; padded positions hold junk.
  const outs = Array.from({ length: L }, () => {
    const common = Float32Array.from({ length: B * T * d }, g);
    const out = new Float32Array(B * H * T * d);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let k = 0; k < d; k++) {
      out[((b * H + h) * T + t) * d + k] = t >= lengths[b] ? 50 : common[(b * T + t) * d + k] * (h + 1) * 0.5 + g() + 0.3 * k;
    }
    return out;
  });
  const mask = maskFromLengths(lengths, T);
  const host = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
  host.addBatchReference(outs, mask);
  const before = tf.memory().numTensors;
  let spaces: string[] = [];
  let crossSpaces: string[] = [];
  const kept = tf.tidy(() => {
    const layers = batchGramsTf(outs.map((o) => tf.tensor4d(o, [B, H, T, d])), tf.tensor2d(Float32Array.from(mask.attentionMask), [B, T]));
    spaces = layers.map((l) => l.space);
    crossSpaces = layers.map((l) => l.crossSpace);
    return layers.flatMap((l) => [l.grams, l.cross]);
  });
  const device = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
  const grams = await readBatchGrams(spaces.map((space, l) => ({
    space: space as 'token' | 'feature', n: space === 'token' ? T : d, grams: kept[2 * l] as tf.Tensor4D, cross: kept[2 * l + 1] as tf.Tensor3D,
  })));
  device.addBatchGrams(grams, mask);
  assert.equal(tf.memory().numTensors, before, 'readBatchGrams disposes what batchGramsTf returned');
  assert.deepEqual(spaces, new Array(L).fill(expectSpace));
  assert.deepEqual(crossSpaces, new Array(L).fill(expectCross));
  assert.deepEqual(device.summary(), host.summary());
  for (let l = 0; l < L; l++) {
    host.richness(l).forEach((v, h) => relClose(device.richness(l)[h], v, 2e-4, `richness L${l}H${h}`));
    host.correlation(l).forEach((v, k) => relClose(device.correlation(l)[k], v, 2e-4, `RV L${l}[${k}]`));
  }
  const off = host.correlation(0)[1];
  assert.ok(off > 0.05 && off < 0.999, `test data should give a non-trivial RV, got ${off}`);
}

test('device path (token-space Grams and cross terms, T ≤ d) matches the float64 host reference', async () => {
  await compare(2, 3, 6, 8, [6, 4, 1, 2], 31, 'token', 'token');
});

test('device path (feature-space Grams, token-space cross terms, d < T ≤ H·d²/(d+H)) matches the host reference', async () => {
  await compare(2, 4, 12, 8, [12, 9, 1, 5], 41, 'feature', 'token');
});

test('device path (feature-space Grams and cross terms, T large) matches the float64 host reference', async () => {
  await compare(2, 3, 12, 4, [12, 7, 1, 10], 37, 'feature', 'feature');
});

test('crossViaTokens follows the multiply-add counts and the memory cap', () => {
  assert.equal(crossViaTokens(32, 12, 64, 64), true);
  assert.equal(crossViaTokens(32, 12, 128, 64), true); // BERT-base: token route up to T ≈ 646
  assert.equal(crossViaTokens(1, 12, 700, 64), false);
  assert.equal(crossViaTokens(64, 12, 512, 64), false, 'a [64, 12, 512, 512] tensor is over the cap');
});
