import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  collate, evalBatches, paddingStats, planEvalBatches, planTrainBatches, sample, TrainBatchStream, trainBatches,
} from './batching.ts';
import type { TokenizedExample } from './example.ts';
import { loadGlue } from './glue.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const glueDir = resolve(repoRoot, process.env.HIFI_SHARED ?? '../shared', 'data/glue');

/** Synthetic examples of the given lengths; token ids encode (example, position) so rows can be traced. */
function synthetic(lengths: number[]): TokenizedExample[] {
  return lengths.map((len, i) => ({
    inputIds: Array.from({ length: len }, (_, t) => 1000 * (i + 1) + t),
    tokenTypeIds: Array.from({ length: len }, (_, t) => (t >= len / 2 ? 1 : 0)),
    label: i % 3,
  }));
}

describe('collate', () => {
  it('pads to the longest row with padId, masks padding, keeps labels and indices', () => {
    const ex: TokenizedExample[] = [
      { inputIds: [101, 7, 102], tokenTypeIds: [0, 0, 0], label: 1 },
      { inputIds: [101, 8, 9, 102, 10, 102], tokenTypeIds: [0, 0, 0, 0, 1, 1], label: 0 },
      { inputIds: [101, 102], tokenTypeIds: [0, 0], label: 2 },
    ];
    const b = collate(ex, [2, 0], { padId: 1 });
    assert.equal(b.batchSize, 2);
    assert.equal(b.seqLen, 3);
    assert.deepEqual([...b.inputIds], [101, 102, 1, /**/ 101, 7, 102]);
    assert.deepEqual([...b.attentionMask], [1, 1, 0, /**/ 1, 1, 1]);
    assert.deepEqual([...b.tokenTypeIds], [0, 0, 0, /**/ 0, 0, 0]);
    assert.ok(b.labels instanceof Int32Array);
    assert.deepEqual([...b.labels], [2, 1]);
    assert.deepEqual(b.indices, [2, 0]);
    const all = collate(ex, [0, 1, 2], { padToMultipleOf: 4 });
    assert.equal(all.seqLen, 8);
    assert.deepEqual([...all.tokenTypeIds.subarray(8, 16)], [0, 0, 0, 0, 1, 1, 0, 0]);
    assert.deepEqual([...all.inputIds.subarray(16, 24)], [101, 102, 0, 0, 0, 0, 0, 0]);
  });

  it('regression labels are Float32Array', () => {
    const b = collate([{ inputIds: [1], tokenTypeIds: [0], label: 3.25 }], [0], { taskType: 'regression' });
    assert.ok(b.labels instanceof Float32Array);
    assert.equal(b.labels[0], 3.25);
  });

  it('rejects inconsistent examples with the index', () => {
    assert.throws(() => collate([{ inputIds: [1, 2], tokenTypeIds: [0], label: 0 }], [0]), /example 0: tokenTypeIds has 1 entries, inputIds 2/);
    assert.throws(() => collate([{ inputIds: [], tokenTypeIds: [], label: 0 }], [0]), /example 0: inputIds is empty/);
    assert.throws(() => collate([{ inputIds: [1], tokenTypeIds: [0], label: 0.5 }], [0]), /not an integer class id/);
    assert.throws(() => collate([], [3]), /no example at index 3/);
  });
});

describe('planTrainBatches', () => {
  const lengths = Array.from({ length: 1000 }, (_, i) => 5 + ((i * 37) % 60));

  it('covers every example exactly once per epoch', () => {
    for (const bucketing of [true, false]) {
      const plan = planTrainBatches(lengths, 0, { batchSize: 32, seed: 1, bucketing });
      assert.equal(plan.length, Math.ceil(1000 / 32));
      assert.deepEqual(plan.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
      assert.equal(plan.filter((b) => b.length !== 32).length, 1); // 1000 = 31·32 + 8
    }
  });

  it('is a function of (seed, epoch): repeatable, and different across epochs and seeds', () => {
    const a = planTrainBatches(lengths, 3, { batchSize: 16, seed: 9 });
    assert.deepEqual(planTrainBatches(lengths, 3, { batchSize: 16, seed: 9 }), a);
    assert.notDeepEqual(planTrainBatches(lengths, 4, { batchSize: 16, seed: 9 }), a);
    assert.notDeepEqual(planTrainBatches(lengths, 3, { batchSize: 16, seed: 10 }), a);
  });

  it('shuffle: false gives consecutive batches; dropLast drops the short one', () => {
    const plan = planTrainBatches(lengths.slice(0, 10), 0, { batchSize: 4, seed: 1, shuffle: false });
    assert.deepEqual(plan, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    assert.equal(planTrainBatches(lengths.slice(0, 10), 0, { batchSize: 4, seed: 1, dropLast: true }).length, 2);
  });

  it('eval plans keep the original order', () => {
    assert.deepEqual(planEvalBatches(5, 2), [[0, 1], [2, 3], [4]]);
    const ex = synthetic([3, 1, 4, 1, 5]);
    assert.deepEqual([...evalBatches(ex, { batchSize: 2 })].flatMap((b) => b.indices), [0, 1, 2, 3, 4]);
  });
});

describe('bucketing on SST-2 train lengths', () => {
  // Whitespace tokens + [CLS]/[SEP] stand in for WordPiece lengths: the same shape of distribution.
  let examples: TokenizedExample[];
  before(async () => {
    const ds = await loadGlue('sst2', 'train', { dataDir: glueDir });
    examples = ds.examples.slice(0, 8000).map((e) => {
      const n = e.text.trim().split(/\s+/).length + 2;
      return { inputIds: new Array(n).fill(5), tokenTypeIds: new Array(n).fill(0), label: e.label as number };
    });
  });

  it('reduces padding against plain shuffling with the same seed', () => {
    const plain = paddingStats(trainBatches(examples, 0, { batchSize: 32, seed: 42, bucketing: false }));
    const bucketed = paddingStats(trainBatches(examples, 0, { batchSize: 32, seed: 42 }));
    assert.equal(plain.realTokens, bucketed.realTokens); // same examples, same real tokens
    console.log(`SST-2 train[:8000], batch 32: padding ${(100 * plain.paddingFraction).toFixed(1)}% shuffled → ${(100 * bucketed.paddingFraction).toFixed(1)}% bucketed; computed tokens ${plain.totalTokens} → ${bucketed.totalTokens}`);
    assert.ok(bucketed.paddingFraction < plain.paddingFraction / 4, `bucketed ${bucketed.paddingFraction} vs plain ${plain.paddingFraction}`);
  });
});

describe('TrainBatchStream', () => {
  const examples = synthetic(Array.from({ length: 50 }, (_, i) => 2 + ((i * 7) % 11)));
  const opts = { batchSize: 8, seed: 123 };

  it('crosses epochs and resumes exactly from a saved cursor', () => {
    const s = new TrainBatchStream(examples, opts);
    assert.equal(s.batchesPerEpoch, 7);
    const first = Array.from({ length: 10 }, () => s.next());
    assert.deepEqual(first.map((b) => [b.epoch, b.step]).slice(6, 8), [[0, 6], [1, 0]]);
    const saved = JSON.parse(JSON.stringify(s.cursor));
    assert.deepEqual(saved, { seed: 123, epoch: 1, step: 3, numExamples: 50 });
    const cont = Array.from({ length: 9 }, () => s.next());
    const resumed = new TrainBatchStream(examples, opts, saved);
    const again = Array.from({ length: 9 }, () => resumed.next());
    assert.deepEqual(again.map((b) => b.batch.indices), cont.map((b) => b.batch.indices));
    assert.deepEqual(again.map((b) => [...b.batch.inputIds]), cont.map((b) => [...b.batch.inputIds]));
    // The epoch-0 batches match the plain epoch plan.
    assert.deepEqual(first.slice(0, 7).map((b) => b.batch.indices), planTrainBatches(examples.map((e) => e.inputIds.length), 0, opts));
  });

  it('refuses a cursor from another seed or dataset size', () => {
    assert.throws(() => new TrainBatchStream(examples, opts, { seed: 1, epoch: 0, step: 0, numExamples: 50 }), /seed/);
    assert.throws(() => new TrainBatchStream(examples.slice(1), opts, { seed: 123, epoch: 0, step: 0, numExamples: 50 }), /saved for 50 examples/);
  });
});

describe('sample', () => {
  const items = Array.from({ length: 100 }, (_, i) => `x${i}`);
  it('draws n distinct items, seeded, in original order', () => {
    const a = sample(items, 10, 5);
    assert.equal(a.length, 10);
    assert.equal(new Set(a).size, 10);
    assert.deepEqual(a, [...a].sort((p, q) => Number(p.slice(1)) - Number(q.slice(1))));
    assert.deepEqual(sample(items, 10, 5), a);
    assert.notDeepEqual(sample(items, 10, 6), a);
    assert.deepEqual(sample(items, 500, 5), items);
    assert.deepEqual(sample(items, 0, 5), []);
    assert.throws(() => sample(items, -1, 5), RangeError);
  });

  it('is roughly uniform: each item picked about n/N of the time', () => {
    const counts = new Array(20).fill(0);
    const small = Array.from({ length: 20 }, (_, i) => i);
    for (let s = 0; s < 2000; s++) for (const x of sample(small, 5, s)) counts[x]++;
    // Expected 2000·5/20 = 500 per item; binomial sd ≈ √(2000·.25·.75) ≈ 19.4, allow ±5 sd.
    for (const c of counts) assert.ok(Math.abs(c - 500) < 100, `count ${c}`);
  });
});
