// Integration: the real engine model on the tiny-bert fixture, analysed end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EncoderModel, initBackend, loadCheckpointDir, type EncodedBatch } from '@hifi/engine';
import { analyzeHeads, type AnalysisProgress } from './analyzeHeads.ts';
import { TokenDataHasher, fingerprintWeights } from './fingerprint.ts';

const shared = resolve(process.env.HIFI_SHARED ?? '../shared');
const fixture = join(shared, 'fixtures', 'tiny-bert');
let model: EncoderModel;
let batches: EncodedBatch[];
let fingerprint: string;

/** Batch of examples [from, to) of expected.json, padded only to their own longest example. */
function batchOf(ids: number[][], masks: number[][], types: number[][], from: number, to: number): EncodedBatch {
  const rows = Array.from({ length: to - from }, (_, i) => from + i);
  const seqLen = Math.max(...rows.map((r) => masks[r].reduce((s, v) => s + v, 0)));
  const take = (m: number[][]) => Int32Array.from(rows.flatMap((r) => m[r].slice(0, seqLen)));
  return { batchSize: rows.length, seqLen, inputIds: take(ids), attentionMask: take(masks), tokenTypeIds: take(types) };
}

before(async () => {
  await initBackend();
  const ckpt = await loadCheckpointDir(fixture);
  model = EncoderModel.fromStateDict(ckpt.config, ckpt.weights).model;
  fingerprint = fingerprintWeights(ckpt.config.raw, ckpt.weights);
  const expected = JSON.parse(await readFile(join(fixture, 'expected.json'), 'utf8')) as {
    input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][];
  };
  const { input_ids: ids, attention_mask: masks, token_type_ids: types } = expected;
  batches = [batchOf(ids, masks, types, 0, 2), batchOf(ids, masks, types, 2, 4), batchOf(ids, masks, types, 4, ids.length)];
  // A one-token example ([CLS] only) must be skipped, not averaged in as zeros.
  batches.push({ batchSize: 1, seqLen: 1, inputIds: Int32Array.from([101]), attentionMask: Int32Array.from([1]), tokenTypeIds: Int32Array.from([0]) });
});

after(() => model?.dispose());

test('analyzeHeads on tiny-bert: host, tfjs and reference paths agree, no tensors leak, report is complete', async () => {
  const { numLayers: L, numHeads: H, headDim: d } = model.config;
  assert.ok(batches.some((b) => b.seqLen <= d) && batches.some((b) => b.seqLen > d), 'the batches exercise both Gram spaces');
  // Warm up once (the model may cache constants on its first forward pass), then count, as expectNoLeakedTensors does.
  for (const compute of ['host', 'tfjs', 'reference'] as const) await analyzeHeads(model, batches.slice(0, 1), { compute });
  const before = tf.memory().numTensors;
  const progress: AnalysisProgress[] = [];
  const fast = await analyzeHeads(model, batches, { budget: { perLayer: 2 }, modelFingerprint: fingerprint, onProgress: (p) => progress.push(p) });
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  const device = await analyzeHeads(model, batches, { budget: { perLayer: 2 }, compute: 'tfjs' });
  assert.equal(tf.memory().numTensors, before);
  const reference = await analyzeHeads(model, batches, { budget: { perLayer: 2 }, compute: 'reference' });
  assert.equal(tf.memory().numTensors, before);

  const examples = batches.reduce((s, b) => s + b.batchSize, 0);
  assert.deepEqual(progress.map((p) => [p.batches, p.examples]), batches.map((_, i) => [i + 1, batches.slice(0, i + 1).reduce((s, b) => s + b.batchSize, 0)]));
  const r = fast.report;
  assert.equal(r.data.examplesSeen, examples);
  assert.equal(r.data.examplesSkipped, 1);
  assert.equal(r.model.fingerprint, fingerprint);
  assert.deepEqual([r.model.numLayers, r.model.numHeads, r.model.headDim, r.model.hiddenSize], [L, H, d, model.config.hiddenSize]);
  const hasher = new TokenDataHasher();
  batches.forEach((b) => hasher.addBatch(b));
  assert.equal(r.data.hash, hasher.digest(), 'default data hash is over the real token ids');
  assert.equal(r.analysis.compute, 'host');
  assert.equal(device.report.analysis.compute, 'tfjs');
  assert.equal(reference.report.analysis.compute, 'reference');
  assert.ok(r.timings.totalMs >= r.timings.statisticsMs && r.timings.statisticsMs > 0);
  assert.ok(r.timings.forwardMs! > 0 && r.timings.hostStatisticsMs! > 0 && r.timings.forwardMs! + r.timings.hostStatisticsMs! <= r.timings.statisticsMs);
  assert.equal(fast.mask.selected.length, 2 * L);
  assert.deepEqual(fast.mask.selected, reference.mask.selected);

  // Host path vs reference: the same float32 head outputs, both in float64 → equal to round-off.
  // Device path (float32 Grams) vs reference: the documented 1e-3 (richness) and 1e-4 (scores, RV).
  for (const [other, richTol, scoreTol, what] of [[fast, 1e-9, 1e-9, 'host'], [device, 1e-3, 1e-4, 'tfjs']] as const) {
    for (let i = 0; i < r.heads.length; i++) {
      const a = other.report.heads[i];
      const b = reference.report.heads[i];
      assert.ok(a.richness > 0);
      assert.ok(Math.abs(a.richness - b.richness) <= richTol * b.richness, `${what} richness L${a.layer}H${a.head}: ${a.richness} vs ${b.richness}`);
      assert.ok(Math.abs(a.score - b.score) <= scoreTol, `${what} score L${a.layer}H${a.head}: ${a.score} vs ${b.score}`);
    }
    other.report.layers.forEach((layer, l) => layer.correlation.forEach((row, i) => row.forEach((v, j) => {
      assert.ok(v >= 0 && v <= 1);
      assert.ok(Math.abs(v - reference.report.layers[l].correlation[i][j]) <= scoreTol, `${what} RV L${l}[${i}][${j}]`);
    })));
  }
  // The same inputs give the same analysis (determinism of the whole stage).
  const again = await analyzeHeads(model, batches, { budget: { perLayer: 2 }, modelFingerprint: fingerprint });
  assert.deepEqual(again.report.heads, r.heads);
});

test('analyzeHeads accepts async iterables, honours an AbortSignal between batches and rejects an empty sample', async () => {
  async function* stream() { for (const b of batches) yield b; }
  const viaAsync = await analyzeHeads(model, stream(), { budget: { total: 3 } });
  assert.equal(viaAsync.selection.selected.length, 3);

  const before = tf.memory().numTensors;
  const controller = new AbortController();
  await assert.rejects(
    analyzeHeads(model, batches, { signal: controller.signal, onProgress: (p) => { if (p.batches === 1) controller.abort(); } }),
    (err: unknown) => err instanceof Error && err.name === 'AbortError',
  );
  assert.equal(tf.memory().numTensors, before, 'aborting leaves no tensors behind');
  await assert.rejects(analyzeHeads(model, batches, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  await assert.rejects(analyzeHeads(model, [batches[3]]), /no usable examples \(1 seen/);
  await assert.rejects(analyzeHeads(model, batches, { compute: 'gpu' as never }), /compute must be one of 'host', 'tfjs', 'reference', got "gpu"/);
});
