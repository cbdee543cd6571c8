// Test helpers other packages may use too (exported from the package index).
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Fails unless running `fn` leaves exactly `expected` more live tfjs tensors than before it ran (modelled on
 * tfjs-layers' expectNoLeakedTensors and the Adam optimizer test): `fn` runs once to warm up (lazily created
 * state such as optimiser moments may appear then), then again while counting. Returns what `fn` returned the
 * second time.
 */
export async function expectNoTensorGrowth<T>(fn: () => T | Promise<T>, expected = 0): Promise<T> {
  await fn();
  const before = tf.memory().numTensors;
  const result = await fn();
  const grown = tf.memory().numTensors - before;
  assert.equal(grown, expected, `tfjs tensor count grew by ${grown} across one call (expected ${expected})`);
  return result;
}
