import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHeadGraph, headKey } from './headGraph.ts';

test('a layer graph has one node per head with its richness and one weighted edge per correlated pair, no self loops', () => {
  const corr = [
    1, 0.5, 0.0,
    0.5, 1, 0.2,
    0.0, 0.2, 1,
  ];
  const g = buildHeadGraph(3, [1.5, 2, 0.25], corr);
  assert.equal(g.type, 'undirected');
  assert.deepEqual(g.nodes(), ['L3H0', 'L3H1', 'L3H2']);
  assert.deepEqual(g.getNodeAttributes(headKey(3, 1)), { layer: 3, head: 1, richness: 2, label: 'L3 H1' });
  assert.equal(g.size, 2, 'the zero correlation gives no edge');
  assert.equal(g.getEdgeAttribute(g.edge('L3H0', 'L3H1')!, 'weight'), 0.5);
  assert.equal(g.getEdgeAttribute(g.edge('L3H2', 'L3H1')!, 'weight'), 0.2);
  assert.equal(g.selfLoopCount, 0);
  assert.equal(buildHeadGraph(3, [1.5, 2, 0.25], corr, { edgeThreshold: 0.3 }).size, 1);
});

test('invalid inputs name the layer and the entry', () => {
  assert.throws(() => buildHeadGraph(1, [1, 1], [1, 0, 0]), /layer 1 correlation has 3 values, expected 2×2/);
  assert.throws(() => buildHeadGraph(1, [1, -1], [1, 0, 0, 1]), /layer 1 head 1 richness/);
  assert.throws(() => buildHeadGraph(1, [1, 1], [1, Number.NaN, Number.NaN, 1]), /correlation\[0\]\[1\]/);
});
