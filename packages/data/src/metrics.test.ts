import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accuracy, computeMetrics, f1Score, matthewsCorrelation, pearson, predictionsFromLogits, rankAverage, spearman,
} from './metrics.ts';
import { metricSpecFor } from './tasks.ts';

const close = (actual: number, expected: number, tol = 1e-9) => assert.ok(Math.abs(actual - expected) <= tol, `${actual} ≉ ${expected}`);

// A binary example used throughout:
//   i:      0  1  2  3  4
//   pred:   1  0  1  1  0
//   label:  1  1  1  0  0
//   TP = 2 (i0, i2), FN = 1 (i1), FP = 1 (i3), TN = 1 (i4)
const pred = [1, 0, 1, 1, 0];
const gold = [1, 1, 1, 0, 0];

describe('classification metrics', () => {
  it('accuracy: 3 of 5 match → 0.6', () => {
    close(accuracy(pred, gold), 3 / 5);
  });

  it('F1 of class 1: 2TP / (2TP + FP + FN) = 4 / (4 + 1 + 1) = 2/3', () => {
    close(f1Score(pred, gold), 4 / 6);
    // Class 0 as positive: TP = 1 (i4), FP = 1 (i1), FN = 1 (i3) → 2 / 4.
    close(f1Score(pred, gold, 0), 2 / 4);
  });

  it('Matthews, binary: (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 − 1) / √(3·3·2·2) = 1/6', () => {
    close(matthewsCorrelation(pred, gold), 1 / 6);
    close(matthewsCorrelation(gold, gold), 1);
    close(matthewsCorrelation(gold.map((g) => 1 - g), gold), -1);
  });

  it('Matthews, three classes: (c·s − Σp_k·t_k) / √((s² − Σp_k²)(s² − Σt_k²)) = 12 / √528', () => {
    // labels 0 0 1 1 2 2, preds 0 1 1 1 2 0: c = 4 correct, s = 6,
    // t = (2, 2, 2), p = (2, 3, 1): Σp·t = 4 + 6 + 2 = 12, Σp² = 14, Σt² = 12
    // → (24 − 12) / √((36 − 14)(36 − 12)) = 12 / √528 ≈ 0.5222
    close(matthewsCorrelation([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2]), 12 / Math.sqrt(528));
  });

  it('degenerate cases: one-class labels or predictions → MCC 0; no positives → F1 0', () => {
    assert.equal(matthewsCorrelation([1, 0, 1], [1, 1, 1]), 0); // all labels one class
    assert.equal(matthewsCorrelation([1, 1, 1, 1], [0, 1, 0, 1]), 0); // constant predictions
    // constant predictions of 1: TP = 2, FP = 2, FN = 0 → 4 / 6
    close(f1Score([1, 1, 1, 1], [0, 1, 0, 1]), 4 / 6);
    assert.equal(f1Score([0, 0], [0, 0]), 0);
  });

  it('rejects empty and mismatched inputs', () => {
    assert.throws(() => accuracy([], []), /no examples/);
    assert.throws(() => f1Score([1], [1, 0]), /1 predictions for 2 labels/);
  });
});

describe('correlations', () => {
  it('Pearson: x = 1..4, y = 2 4 5 9 → 11 / √(5·26)', () => {
    // means 2.5 and 5; dx = −1.5 −.5 .5 1.5; dy = −3 −1 0 4
    // Σdx·dy = 4.5 + .5 + 0 + 6 = 11; Σdx² = 5; Σdy² = 26 → 11/√130 ≈ 0.964764
    close(pearson([1, 2, 3, 4], [2, 4, 5, 9]), 11 / Math.sqrt(130));
    close(pearson(Float32Array.from([1, 2, 3]), [3, 2, 1]), -1);
  });

  it('average ranks for ties, and Spearman on them', () => {
    // x = 1 2 2 3: the two 2s share ranks 2 and 3 → 2.5 each
    assert.deepEqual([...rankAverage([1, 2, 2, 3])], [1, 2.5, 2.5, 4]);
    assert.deepEqual([...rankAverage([3, 1, 3, 3])], [3, 1, 3, 3]);
    // ranks x = 1 2.5 2.5 4, ranks y = 1 3 2 4; both mean 2.5
    // dx = −1.5 0 0 1.5, dy = −1.5 .5 −.5 1.5 → Σdx·dy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5/√22.5 ≈ 0.948683
    close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4.5 / Math.sqrt(22.5));
    // monotonic but not linear → Spearman 1
    close(spearman([1, 2, 3, 4], [1, 10, 100, 1000]), 1);
  });

  it('constant series → 0 (not NaN)', () => {
    assert.equal(pearson([2, 2, 2], [1, 2, 3]), 0);
    assert.equal(spearman([1, 2, 3], [5, 5, 5]), 0);
  });
});

describe('computeMetrics', () => {
  it('MRPC/QQP: F1 (main) and accuracy', () => {
    const m = computeMetrics('glue:mrpc', pred, gold);
    assert.deepEqual(Object.keys(m).sort(), ['accuracy', 'f1', 'main']);
    close(m.f1 as number, 2 / 3);
    close(m.accuracy as number, 0.6);
    close(m.main, 2 / 3);
    close(computeMetrics('QQP', pred, gold).main, 2 / 3);
  });

  it('CoLA: Matthews (main) and accuracy', () => {
    const m = computeMetrics('CoLA', pred, gold);
    close(m.matthews as number, 1 / 6);
    close(m.main, 1 / 6);
  });

  it('STS-B: Pearson (main) and Spearman', () => {
    const m = computeMetrics('sts-b', [1, 2, 3, 4], [2, 4, 5, 9]);
    close(m.pearson as number, 11 / Math.sqrt(130));
    close(m.spearman as number, 1);
    close(m.main, 11 / Math.sqrt(130));
  });

  it('accuracy tasks and custom specs', () => {
    assert.deepEqual(computeMetrics('rte', pred, gold), { accuracy: 0.6, main: 0.6 });
    const m = computeMetrics(metricSpecFor('classification', 2), pred, gold);
    close(m.main, 0.6);
    close(m.f1 as number, 2 / 3);
  });

  it('predictionsFromLogits: argmax per row, values for regression', () => {
    assert.deepEqual([...predictionsFromLogits(Float32Array.from([0.1, 2, 3, -1, 5, 5]), 2)], [1, 0, 0]);
    assert.deepEqual([...predictionsFromLogits([0.5, 1.5], 1)], [0.5, 1.5]);
    assert.throws(() => predictionsFromLogits([1, 2, 3], 2), /not a multiple/);
  });
});
