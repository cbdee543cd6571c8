import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalJson, fingerprintWeights, hashSampledData, TokenDataHasher } from './fingerprint.ts';

const config = { hidden_size: 4, model_type: 'bert', id2label: { 1: 'b', 0: 'a' } };
const weights = (): [string, Float32Array][] => [
  ['b.weight', Float32Array.from([1, 2, 3, 4])],
  ['a.bias', Float32Array.from([0.5, -0.5])],
];

test('fingerprintWeights: a sha256 that ignores config key order and state-dict order, and sees every value', () => {
  const fp = fingerprintWeights(config, weights());
  assert.match(fp, /^[0-9a-f]{64}$/);
  assert.equal(fingerprintWeights({ id2label: { 0: 'a', 1: 'b' }, model_type: 'bert', hidden_size: 4 }, weights().reverse()), fp);
  const stateDict = new Map(weights().map(([k, v]) => [k, { shape: [v.length], data: v }]));
  assert.equal(fingerprintWeights(config, stateDict), fp, 'a StateDict of HostTensors hashes like name → Float32Array');
  const changed = weights();
  changed[0][1][3] = 4.0000005;
  assert.notEqual(fingerprintWeights(config, changed), fp);
  assert.notEqual(fingerprintWeights({ ...config, hidden_size: 5 }, weights()), fp);
  const renamed = weights();
  renamed[1][0] = 'a.weight';
  assert.notEqual(fingerprintWeights(config, renamed), fp);
  const reshaped = new Map(weights().map(([k, v]) => [k, { shape: k === 'b.weight' ? [2, 2] : [v.length], data: v }]));
  assert.notEqual(fingerprintWeights(config, reshaped), fp);
  assert.throws(() => fingerprintWeights(config, [...weights(), ['a.bias', new Float32Array(1)]]), /duplicate tensor name "a.bias"/);
});

test('canonicalJson sorts keys at every level and keeps arrays in order', () => {
  assert.equal(canonicalJson({ b: [3, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[3,{"c":2,"d":1}]}');
});

test('hashSampledData: length-prefixed items, order-sensitive, no concatenation collisions', () => {
  const h = hashSampledData(['ab', 'c']);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.notEqual(hashSampledData(['a', 'bc']), h);
  assert.notEqual(hashSampledData(['c', 'ab']), h);
  assert.equal(hashSampledData(['ab', 'c']), h);
  assert.notEqual(h, createHash('sha256').update('abc').digest('hex'));
});

test('TokenDataHasher hashes each example\'s real token ids, whatever the padding', () => {
  const a = new TokenDataHasher();
  a.addBatch({ batchSize: 2, seqLen: 3, inputIds: [101, 7, 102, 101, 102, 0], attentionMask: [1, 1, 1, 1, 1, 0] });
  const b = new TokenDataHasher();
  b.addBatch({ batchSize: 1, seqLen: 3, inputIds: [101, 7, 102], attentionMask: [1, 1, 1] });
  b.addBatch({ batchSize: 1, seqLen: 4, inputIds: [101, 102, 0, 0], attentionMask: [1, 1, 0, 0] });
  assert.equal(a.digest(), b.digest());
  assert.equal(a.examples, 2);
  b.addBatch({ batchSize: 1, seqLen: 2, inputIds: [101, 102], attentionMask: [1, 1] });
  assert.notEqual(a.digest(), b.digest());
});
