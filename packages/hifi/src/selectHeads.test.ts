import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headTrainableParams, randomScores, selectHeads, HeadSelectionError } from './selectHeads.ts';

// Exact binary fractions, each layer summing to exactly 1, with ties inside and across layers.
const scores = [
  [3 / 8, 1 / 8, 3 / 8, 1 / 8],
  [1 / 4, 1 / 4, 1 / 4, 1 / 4],
  [1 / 8, 1 / 8, 3 / 8, 3 / 8],
];

test('perLayer (the default form): top k of each layer, ties to the lower head', () => {
  const s = selectHeads({ scores, budget: { perLayer: 2 } });
  assert.deepEqual(s.selected, [[0, 0], [0, 2], [1, 0], [1, 1], [2, 2], [2, 3]]);
  assert.deepEqual(s.mask, [[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]]);
  assert.equal(s.targetCount, 6);
  assert.deepEqual(s.warnings, []);
  assert.equal(selectHeads({ scores }).selected.length, 9, 'default budget is perLayer 3');
});

test('total: global ranking by within-layer-normalised score, ties by layer then head', () => {
  assert.deepEqual(selectHeads({ scores, budget: { total: 3 } }).selected, [[0, 0], [0, 2], [2, 2]]);
  assert.deepEqual(selectHeads({ scores, budget: { total: 5 } }).selected, [[0, 0], [0, 2], [1, 0], [2, 2], [2, 3]]);
  // Normalisation: scaling one layer's raw scores does not change the global order.
  const scaled = scores.map((row, l) => row.map((v) => (l === 2 ? v * 100 : v)));
  assert.deepEqual(selectHeads({ scores: scaled, budget: { total: 3 } }).selected, [[0, 0], [0, 2], [2, 2]]);
  assert.deepEqual(selectHeads({ scores, budget: { total: 0 } }).selected, []);
});

test('fraction: round(f · L · H) heads', () => {
  assert.deepEqual(selectHeads({ scores, budget: { fraction: 0.25 } }).selected, [[0, 0], [0, 2], [2, 2]]);
  const s = selectHeads({ scores, budget: { fraction: 0.3 } }); // round(3.6) = 4
  assert.equal(s.targetCount, 4);
  assert.deepEqual(s.selected, [[0, 0], [0, 2], [2, 2], [2, 3]]);
  assert.equal(selectHeads({ scores, budget: { fraction: 1 } }).selected.length, 12);
});

test('maxTrainableParams: each head costs 3·(hidden·d + d) (+ d·hidden with the output projection)', () => {
  assert.equal(headTrainableParams({ hiddenSize: 8, headDim: 2 }), 54);
  assert.equal(headTrainableParams({ hiddenSize: 8, headDim: 2, trainOutputProjection: true }), 70);
  assert.equal(headTrainableParams({ hiddenSize: 768, headDim: 64 }), 3 * (768 * 64 + 64));
  const qkv = selectHeads({ scores, budget: { maxTrainableParams: 200, hiddenSize: 8, headDim: 2 } });
  assert.deepEqual(qkv.selected, [[0, 0], [0, 2], [2, 2]]);
  assert.equal(qkv.trainableParams, 162);
  const withOut = selectHeads({ scores, budget: { maxTrainableParams: 200, hiddenSize: 8, headDim: 2, trainOutputProjection: true } });
  assert.deepEqual(withOut.selected, [[0, 0], [0, 2]]);
  assert.equal(withOut.trainableParams, 140);
  assert.equal(selectHeads({ scores, budget: { maxTrainableParams: 53, hiddenSize: 8, headDim: 2 } }).selected.length, 0);
});

test('require and exclude', () => {
  const perLayer = selectHeads({ scores, budget: { perLayer: 2 }, exclude: [[0, 0]], require: [[1, 3]] });
  assert.deepEqual(perLayer.selected, [[0, 1], [0, 2], [1, 0], [1, 3], [2, 2], [2, 3]]);
  const total = selectHeads({ scores, budget: { total: 3 }, exclude: [[0, 2]], require: [[1, 3]] });
  assert.deepEqual(total.selected, [[0, 0], [1, 3], [2, 2]]);
  const over = selectHeads({ scores, budget: { total: 1 }, require: [[1, 1], [2, 0]] });
  assert.deepEqual(over.selected, [[1, 1], [2, 0]]);
  assert.match(over.warnings[0], /2 required heads exceed the budget of 1/);
  const overLayer = selectHeads({ scores, budget: { perLayer: 1 }, require: [[0, 1], [0, 3]] });
  assert.deepEqual(overLayer.selected, [[0, 1], [0, 3], [1, 0], [2, 2]]);
  assert.match(overLayer.warnings[0], /layer 0: 2 required heads exceed perLayer 1/);
  const short = selectHeads({ scores, budget: { perLayer: 4 }, exclude: [[2, 0]] });
  assert.equal(short.selected.length, 11);
  assert.match(short.warnings[0], /layer 2: only 3 heads available/);
  assert.throws(() => selectHeads({ scores, require: [[0, 1]], exclude: [[0, 1]] }), /head \[0,1\] is both required and excluded/);
  assert.throws(() => selectHeads({ scores, require: [[3, 0]] }), (e: unknown) => e instanceof HeadSelectionError && /require\[0\]: layer 3 out of range \[0, 3\)/.test(e.message));
  assert.throws(() => selectHeads({ scores, exclude: [[0, 1.5] as unknown as [number, number]] }), /exclude\[0\]: expected a \[layer, head\] pair of integers/);
});

test('invalid budgets and scores are rejected with the field named', () => {
  assert.throws(() => selectHeads({ scores, budget: { perLayer: 5 } }), /budget.perLayer must be an integer in \[0, 4\]/);
  assert.throws(() => selectHeads({ scores, budget: { total: 13 } }), /budget.total must be an integer in \[0, 12\]/);
  assert.throws(() => selectHeads({ scores, budget: { fraction: 1.5 } }), /budget.fraction must be in \[0, 1\]/);
  assert.throws(() => selectHeads({ scores, budget: { maxTrainableParams: 10, hiddenSize: 0, headDim: 2 } }), /budget.hiddenSize/);
  assert.throws(() => selectHeads({ scores, budget: {} as never }), /unknown budget/);
  assert.throws(() => selectHeads({ scores: [[1, 2], [1]] }), /scores\[1\] has 1 heads, expected 2/);
  assert.throws(() => selectHeads({ scores: [[1, Number.NaN]] }), /scores\[0\]\[1\]/);
});

test('random scores: same seed → same selection, different seed → different selection', () => {
  const a = selectHeads({ scores: randomScores(12, 12, 1), budget: { perLayer: 3 } }).selected;
  const b = selectHeads({ scores: randomScores(12, 12, 1), budget: { perLayer: 3 } }).selected;
  const c = selectHeads({ scores: randomScores(12, 12, 2), budget: { perLayer: 3 } }).selected;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(c.length, 36);
  const flat = randomScores(12, 12, 1).flatMap((r) => [...r]);
  assert.ok(flat.every((v) => v >= 0 && v < 1));
  assert.ok(new Set(flat).size > 140, 'values are spread');
});
