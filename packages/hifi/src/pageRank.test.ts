import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UndirectedGraph, DirectedGraph } from 'graphology';
import { createRequire } from 'node:module';
import type { AbstractGraph } from 'graphology-types';
import { pageRank, scoresByNode } from './pageRank.ts';
import { buildHeadGraph } from './headGraph.ts';
import { assertClose, gaussian } from './testSupport.ts';

// The package is CommonJS with `module.exports = pagerank`; require it to get the function itself.
const graphologyPagerank = createRequire(import.meta.url)('graphology-metrics/centrality/pagerank') as (
  graph: AbstractGraph,
  opts: { getEdgeWeight: string; alpha?: number; tolerance?: number; maxIterations?: number },
) => Record<string, number>;

/** Solves the 3×3 system A x = b by Cramer's rule. */
function solve3(a: number[][], b: number[]): number[] {
  const det = (m: number[][]) => m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const d = det(a);
  return [0, 1, 2].map((c) => det(a.map((row, r) => row.map((v, j) => (j === c ? b[r] : v)))) / d);
}

test('personalised PageRank on a 3-node weighted graph equals (1−d)(I − dPᵀ)⁻¹t', () => {
  // Edges a–b (2), b–c (1), a–c (0.5); richness 1, 2, 5.
  const g = new UndirectedGraph();
  g.addNode('a', { richness: 1 }); g.addNode('b', { richness: 2 }); g.addNode('c', { richness: 5 });
  g.addEdge('a', 'b', { weight: 2 }); g.addEdge('b', 'c', { weight: 1 }); g.addEdge('a', 'c', { weight: 0.5 });
  const d = 0.85;
  const w = [[0, 2, 0.5], [2, 0, 1], [0.5, 1, 0]];
  const P = w.map((row) => row.map((v) => v / row.reduce((s, x) => s + x, 0)));
  const t = [1 / 8, 2 / 8, 5 / 8];
  const A = [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? 1 : 0) - d * P[j][i])); // I − dPᵀ
  const expected = solve3(A, t.map((v) => (1 - d) * v));
  const res = pageRank(g, { damping: d, teleport: { attribute: 'richness' }, tolerance: 1e-14 });
  assert.equal(res.converged, true);
  assert.ok(res.iterations > 5 && res.iterations < 1000, `iterations ${res.iterations}`);
  assert.deepEqual(res.nodes, ['a', 'b', 'c']);
  res.scores.forEach((v, i) => assertClose(v, expected[i], 1e-12, `score ${res.nodes[i]}`));
  assertClose(res.scores.reduce((s, v) => s + v, 0), 1, 1e-12, 'sum');
  res.teleport.forEach((v, i) => assertClose(v, t[i], 1e-15, 'teleport'));
  // Personalisation matters: the uniform teleport gives another answer.
  const uniform = pageRank(g, { damping: d, teleport: 'uniform', tolerance: 1e-14 });
  assert.ok(Math.abs(uniform.scores[2] - res.scores[2]) > 0.02, `uniform ${uniform.scores[2]} vs personalised ${res.scores[2]}`);
});

test('with a uniform teleport the result equals graphology-metrics pagerank (weighted)', () => {
  const rand = gaussian(9);
  const H = 7;
  const corr = new Float64Array(H * H);
  for (let i = 0; i < H; i++) for (let j = i + 1; j < H; j++) corr[i * H + j] = corr[j * H + i] = Math.abs(rand()) % 1;
  corr[0 * H + 1] = corr[1 * H + 0] = 0; // one missing edge
  const graph = buildHeadGraph(0, Array.from({ length: H }, () => 1 + Math.abs(rand())), corr);
  for (const damping of [0.85, 0.5]) {
    const ours = scoresByNode(pageRank(graph, { damping, teleport: 'uniform', tolerance: 1e-12 }));
    const theirs = graphologyPagerank(graph, { getEdgeWeight: 'weight', alpha: damping, tolerance: 1e-12, maxIterations: 1000 });
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
    for (const k of Object.keys(theirs)) assertClose(ours[k], theirs[k], 1e-10, `node ${k} (d=${damping})`);
  }
});

test('a dangling node (no edge weight) jumps along the teleport; directed graphs follow edge direction', () => {
  const g = new DirectedGraph();
  for (const k of ['x', 'y', 'z']) g.addNode(k, { r: k === 'z' ? 3 : 1 });
  g.addEdge('x', 'y', { weight: 1 });
  g.addEdge('y', 'x', { weight: 1 });
  // z has no out-edges: it is dangling. Closed form with dangling mass redistributed along t.
  const res = pageRank(g, { teleport: { attribute: 'r' }, tolerance: 1e-14 });
  assert.equal(res.converged, true);
  const theirs = graphologyPagerank(g, { getEdgeWeight: 'weight', tolerance: 1e-14, maxIterations: 1000 });
  const uniform = scoresByNode(pageRank(g, { tolerance: 1e-14 }));
  for (const k of ['x', 'y', 'z']) assertClose(uniform[k], theirs[k], 1e-10, `uniform ${k}`);
  // z only receives teleport mass: x_z = t_z · (1 − d + d·x_z) ⇒ x_z = t_z(1 − d)/(1 − d·t_z).
  const tz = 3 / 5;
  assertClose(res.scores[2], (tz * 0.15) / (1 - 0.85 * tz), 1e-12, 'dangling z');
});

test('iterations and convergence are recorded; non-convergence is reported, not thrown', () => {
  const g = new UndirectedGraph();
  g.addNode('a', { richness: 1 }); g.addNode('b', { richness: 9 });
  g.addEdge('a', 'b', { weight: 1 });
  const capped = pageRank(g, { teleport: { attribute: 'richness' }, maxIterations: 2, tolerance: 1e-15 });
  assert.equal(capped.converged, false);
  assert.equal(capped.iterations, 2);
  assert.ok(capped.residual > 0);
  const full = pageRank(g, { teleport: { attribute: 'richness' } });
  assert.equal(full.converged, true);
  assert.ok(full.iterations > 2);
});

test('bad options and weights are rejected clearly', () => {
  const g = new UndirectedGraph();
  g.addNode('a'); g.addNode('b');
  g.addEdge('a', 'b', { weight: -1 });
  assert.throws(() => pageRank(g), /edge .* weight=-1/);
  assert.throws(() => pageRank(new UndirectedGraph(), { damping: 1 }), /damping must be in \[0, 1\)/);
  assert.throws(() => pageRank(new UndirectedGraph(), { maxIterations: 0 }), /maxIterations/);
  const h = new UndirectedGraph();
  h.addNode('a', { richness: Number.NaN });
  assert.throws(() => pageRank(h, { teleport: { attribute: 'richness' } }), /teleport weight of node a/);
});
