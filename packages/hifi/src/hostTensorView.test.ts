import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@hifi/engine';
import { wasmHeapView, wasmHeapViews } from './hostTensorView.ts';

before(async () => { await initBackend(); });

test('wasm heap views hold the same values as data(), without copying; other tensors fall back', async (t) => {
  if (tf.getBackend() !== 'wasm') {
    t.skip(`backend is ${tf.getBackend()}: views are only taken on wasm`);
    return;
  }
  const a = tf.tidy(() => tf.mul(tf.reshape(tf.range(0, 24, 1, 'float32'), [2, 3, 4]), 0.5));
  const b = tf.tidy(() => tf.transpose(a, [2, 0, 1]));
  const ints = tf.tensor1d([1, 2, 3], 'int32');
  try {
    const views = wasmHeapViews([a, b]);
    assert.ok(views);
    assert.deepEqual([...views[0]], [...(await a.data())]);
    assert.deepEqual([...views[1]], [...(await b.data())]);
    assert.ok(!(views[0].buffer === (await a.data()).buffer), 'data() copies, the view does not');
    assert.equal(wasmHeapView(ints), undefined, 'int32 tensors are read with data()');
    assert.equal(wasmHeapViews([a, ints]), undefined);
  } finally {
    tf.dispose([a, b, ints]);
  }
});
