import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { collate } from '@hifi/data';
import { setupTfjs, loadFixture, buildModel, syntheticExamples } from './test-support.ts';
import { TrainableSet } from './trainable.ts';
import { Trainer } from './trainer.ts';
import { resolveHyperparameters } from './hyperparameters.ts';
import { setFastKernelsEnabled } from '@hifi/engine/kernels/wasm-kernels.ts';

await setupTfjs();

test('the backend under test is wasm (where UnsortedSegmentSum is missing upstream)', { skip: tf.getBackend() !== 'wasm' && `backend is ${tf.getBackend()}` }, () => {
  assert.ok(tf.getKernel('UnsortedSegmentSum', 'wasm'));
});

test('unsortedSegmentSum: sums rows per segment, drops out-of-range ids, keeps trailing dims', () => {
  const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 2, 2]);
  const ids = tf.tensor1d([2, 0, 2], 'int32');
  const out = tf.unsortedSegmentSum(x, ids, 4);
  assert.deepEqual(out.shape, [4, 2, 2]);
  assert.deepEqual([...out.dataSync()], [5, 6, 7, 8, 0, 0, 0, 0, 1 + 9, 2 + 10, 3 + 11, 4 + 12, 0, 0, 0, 0]);
  const dropped = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3]), tf.tensor1d([-1, 1, 5], 'int32'), 2);
  assert.deepEqual([...dropped.dataSync()], [0, 2]);
  tf.dispose([x, ids, out, dropped]);
});

test('the gradient of an embedding lookup (tf.gather) scatters into the looked-up rows', () => {
  const table = tf.variable(tf.tensor2d([[1, 1], [2, 2], [3, 3], [4, 4]]));
  const idx = tf.tensor1d([1, 3, 1], 'int32');
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(table, idx), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))) as tf.Scalar, [table]);
  assert.deepEqual([...grads[table.name].dataSync()], [0, 0, 6, 8, 0, 0, 3, 4]);
  tf.dispose([table, idx, grads[table.name]]);
});

for (const fastKernels of [false, true]) {
  test(`\`full\` trains on this backend: embeddings get gradients, loss falls (engine fast kernels ${fastKernels ? 'on' : 'off: tf.gather'})`, async (t) => {
    setFastKernelsEnabled(fastKernels);
    t.after(() => setFastKernelsEnabled(process.env.HIFI_FAST_KERNELS !== '0'));
    const fx = await loadFixture('tiny-bert');
    const model = buildModel(fx);
    const word = 'bert.embeddings.word_embeddings.weight';
    const before = model.stateDict().get(word)!;
    const ts = TrainableSet.create(model, { mode: 'full' });
    assert.equal(ts.lowestTrainableLayer, -1);
    assert.equal(ts.numParams(), model.numParams());
    const trainer = new Trainer(model, ts, resolveHyperparameters({ learningRate: 1e-3, taskHeadLearningRate: 1e-3, weightDecay: 0, warmupRatio: 0 }), 'classification');
    const ex = syntheticExamples(model.config, 16, 4);
    const losses: number[] = [];
    for (let s = 1; s <= 12; s++) losses.push((await trainer.step(collate(ex, [...Array(16).keys()], { padId: 0 }), s, 12)).loss);
    trainer.dispose();
    ts.dispose();
    const after = model.stateDict().get(word)!;
    const used = new Set(ex.flatMap((e) => e.inputIds));
    const H = model.config.hiddenSize;
    const rowMoved = (r: number) => after.data.subarray(r * H, (r + 1) * H).some((v, i) => v !== before.data[r * H + i]);
    for (const r of used) assert.ok(rowMoved(r), `embedding row ${r} (a used token) did not move`);
    assert.ok(!rowMoved(5000), 'an unused token row moved without weight decay');
    assert.ok(losses.at(-1)! < losses[0] * 0.7, `loss ${losses[0]} → ${losses.at(-1)}`);
    model.dispose();
  });
}
