import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { collate } from '@hifi/data';
import { setupTfjs, loadFixture, buildModel, syntheticExamples } from './test-support.ts';
import { TrainableSet, isTaskHeadKey } from './trainable.ts';
import { Trainer } from './trainer.ts';
import { resolveHyperparameters } from './hyperparameters.ts';
import { headSlices, type HeadRef } from './head-slices.ts';

await setupTfjs();

/** HF-layout entries a head slice owns: rows (q/k/v weight, HF [out, in]) or columns (output dense, HF [out, in]). */
function ownedMask(key: string, shape: number[], slices: ReturnType<typeof headSlices>): Uint8Array | null {
  const mine = slices.filter((s) => s.key === key);
  if (mine.length === 0) return null;
  const mask = new Uint8Array(shape.reduce((a, b) => a * b, 1));
  for (const s of mine) {
    if (shape.length === 1) mask.fill(1, s.start, s.start + s.size);
    else if (s.projection === 'output') for (let r = 0; r < shape[0]; r++) mask.fill(1, r * shape[1] + s.start, r * shape[1] + s.start + s.size);
    else mask.fill(1, s.start * shape[1], (s.start + s.size) * shape[1]);
  }
  return mask;
}

for (const name of ['tiny-bert', 'tiny-roberta'] as const) {
  test(`${name}: after training, frozen parameters are bit-for-bit unchanged; only the selected slices and the task head moved`, async () => {
    const fx = await loadFixture(name);
    const model = buildModel(fx);
    const before = model.stateDict();
    const heads: HeadRef[] = name === 'tiny-bert' ? [[0, 1], [1, 0], [1, 3]] : [[1, 2], [1, 3], [2, 7]];
    const ts = TrainableSet.create(model, { mode: 'heads', heads, trainOutputProjection: true });
    assert.equal(ts.lowestTrainableLayer, heads[0][0]);
    const trainer = new Trainer(model, ts, resolveHyperparameters({ headLearningRate: 1e-2, warmupRatio: 0 }), 'classification');
    const padId = model.config.padTokenId;
    const ex = syntheticExamples(model.config, 16, 3);
    for (let s = 1; s <= 3; s++) await trainer.step(collate(ex, [...Array(8).keys()].map((i) => (i + 8 * s) % 16), { padId }), s, 3);
    trainer.dispose();
    ts.commit();
    const after = model.stateDict();
    const slices = headSlices(model.config, heads, { trainOutputProjection: true });
    let movedSliceEntries = 0;
    for (const [key, b] of before) {
      const a = after.get(key)!;
      assert.deepEqual(a.shape, b.shape, key);
      if (isTaskHeadKey(key)) {
        assert.ok(a.data.some((v, i) => v !== b.data[i]), `task head ${key} did not move`);
        continue;
      }
      const owned = ownedMask(key, b.shape, slices);
      for (let i = 0; i < b.data.length; i++) {
        if (owned && owned[i]) {
          if (a.data[i] !== b.data[i]) movedSliceEntries++;
        } else if (!Object.is(a.data[i], b.data[i])) {
          assert.fail(`${key}[${i}] is frozen but changed: ${b.data[i]} → ${a.data[i]}`);
        }
      }
    }
    const ownedTotal = slices.reduce((n, s) => n + (s.kind === 'weight' ? s.size * model.config.hiddenSize : s.size), 0);
    assert.ok(movedSliceEntries > 0.9 * ownedTotal, `only ${movedSliceEntries} of ${ownedTotal} selected entries moved`);
    model.dispose();
  });
}

test('trainable variables: one per layer and projection, whole task head, lowest trainable layer', async () => {
  const fx = await loadFixture('tiny-roberta');
  const model = buildModel(fx);
  const ts = TrainableSet.create(model, { mode: 'heads', heads: [[2, 0], [1, 5], [1, 4]], trainOutputProjection: false });
  const d = model.config.headDim;
  const C = model.config.hiddenSize;
  const names = ts.variables.map((v) => v.name);
  assert.deepEqual(names.filter((n) => n.includes('@')), [
    'roberta.encoder.layer.1.attention.self.query.weight@heads=4,5', 'roberta.encoder.layer.1.attention.self.query.bias@heads=4,5',
    'roberta.encoder.layer.1.attention.self.key.weight@heads=4,5', 'roberta.encoder.layer.1.attention.self.key.bias@heads=4,5',
    'roberta.encoder.layer.1.attention.self.value.weight@heads=4,5', 'roberta.encoder.layer.1.attention.self.value.bias@heads=4,5',
    'roberta.encoder.layer.2.attention.self.query.weight@heads=0', 'roberta.encoder.layer.2.attention.self.query.bias@heads=0',
    'roberta.encoder.layer.2.attention.self.key.weight@heads=0', 'roberta.encoder.layer.2.attention.self.key.bias@heads=0',
    'roberta.encoder.layer.2.attention.self.value.weight@heads=0', 'roberta.encoder.layer.2.attention.self.value.bias@heads=0',
  ]);
  assert.deepEqual(names.filter((n) => !n.includes('@')).sort(), ['classifier.dense.bias', 'classifier.dense.weight', 'classifier.out_proj.bias', 'classifier.out_proj.weight']);
  assert.equal(ts.lowestTrainableLayer, 1);
  assert.equal(ts.numParams('heads'), 3 * 3 * (C * d + d));
  // The overrides rebuild exactly the model's own parameters before any training.
  const diffs = tf.tidy(() => {
    const o = ts.overrides();
    return [...o].map(([k, t]) => tf.max(tf.abs(tf.sub(t, model.param(k)))).dataSync()[0]);
  });
  assert.ok(diffs.every((x) => x === 0));
  assert.throws(() => TrainableSet.create(model, { mode: 'heads', heads: [[3, 0]] }), /layer 3 is outside 0..2/);
  ts.dispose();
  model.dispose();
});

test('task-head-only training (no heads) runs every encoder layer outside the gradient', async () => {
  const fx = await loadFixture('tiny-bert');
  const model = buildModel(fx);
  const ts = TrainableSet.create(model, { mode: 'heads', heads: [] });
  assert.equal(ts.lowestTrainableLayer, model.config.numLayers);
  const trainer = new Trainer(model, ts, resolveHyperparameters({}), 'classification');
  const r = await trainer.step(collate(syntheticExamples(model.config, 4, 1), [0, 1, 2, 3], { padId: 0 }), 1, 10);
  assert.ok(Number.isFinite(r.loss) && r.gradNorm > 0);
  trainer.dispose();
  ts.dispose();
  model.dispose();
});
