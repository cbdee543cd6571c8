// Ranking, report, mask, GEXF and SVG outputs over statistics from synthetic head outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UndirectedGraph } from 'graphology';
import { parse } from 'graphology-gexf';
import { HeadStatistics, maskFromLengths } from './headStatistics.ts';
import { rankAndSelect } from './analyzeHeads.ts';
import { rankHeads } from './rankHeads.ts';
import { headMaskFile, parseHeadMask, HeadMaskError } from './headMask.ts';
import { reportGrid, ranksInLayer, HEAD_REPORT_SCHEMA_VERSION } from './headReport.ts';
import { headGraphsToGexf } from './headGexf.ts';
import { headHeatmapSvg } from './headHeatmapSvg.ts';
import { viridis } from './viridis.ts';
import { normaliseWithinLayer, randomScores } from './selectHeads.ts';
import { assertClose, gaussian } from './testSupport.ts';

const [L, H, T, d] = [3, 4, 10, 3];

function syntheticStatistics(): HeadStatistics {
  const g = gaussian(77);
  const stats = new HeadStatistics({ numLayers: L, numHeads: H, headDim: d });
  const lengths = [10, 8, 6, 9];
  const outs = Array.from({ length: L }, (_, l) => {
    const out = new Float32Array(lengths.length * H * T * d);
    for (let b = 0; b < lengths.length; b++) {
      const shared = Float64Array.from({ length: T * d }, g);
      for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let k = 0; k < d; k++) {
        // Head h mixes a shared signal (more for higher h) with its own noise, scaled by (l + h + 1).
        out[((b * H + h) * T + t) * d + k] = (l + h + 1) * ((h / H) * shared[t * d + k] + g());
      }
    }
    return out;
  });
  stats.addBatch(outs, maskFromLengths(lengths, T));
  return stats;
}

test('rankAndSelect: hifi scores are personalised PageRank, sum to 1 per layer, and the report holds every field', () => {
  const stats = syntheticStatistics();
  const { report, mask, ranking, selection } = rankAndSelect(stats, { budget: { perLayer: 2 }, modelFingerprint: 'f'.repeat(64), dataHash: 'd'.repeat(64) });
  assert.equal(report.schemaVersion, HEAD_REPORT_SCHEMA_VERSION);
  assert.equal(report.kind, 'hifi-head-report');
  assert.deepEqual(report.model, { fingerprint: 'f'.repeat(64), numLayers: L, numHeads: H, headDim: d, hiddenSize: H * d });
  assert.deepEqual(report.data, { hash: 'd'.repeat(64), examplesSeen: 4, examplesUsed: 4, examplesSkipped: 0, tokensUsed: 33 });
  assert.equal(report.analysis.strategy, 'hifi');
  assert.deepEqual(report.analysis.budget, { perLayer: 2 });
  assert.equal(report.heads.length, L * H);
  for (let l = 0; l < L; l++) {
    const heads = report.heads.filter((e) => e.layer === l);
    assertClose(heads.reduce((s, e) => s + e.score, 0), 1, 1e-9, `layer ${l} score sum`);
    assertClose(heads.reduce((s, e) => s + e.richnessNorm, 0), 1, 1e-12, `layer ${l} richnessNorm sum`);
    assert.deepEqual(heads.map((e) => e.rankInLayer).sort(), [1, 2, 3, 4]);
    assert.deepEqual(heads.filter((e) => e.selected).map((e) => e.rankInLayer).sort(), [1, 2], 'perLayer 2 selects ranks 1 and 2');
    heads.forEach((e) => assert.equal(e.score, e.pageRank));
    const layer = report.layers[l];
    assert.equal(layer.correlation.length, H);
    layer.correlation.forEach((row, i) => { assert.equal(row[i], 1); row.forEach((v, j) => assert.equal(v, layer.correlation[j][i])); });
    assert.equal(layer.pageRank.converged, true);
    assert.ok(layer.pageRank.iterations > 0);
  }
  // Richness grows with (l + h + 1) by construction: the last head of each layer is the richest.
  for (let l = 0; l < L; l++) assert.equal(ranking.layers[l].richness.indexOf(Math.max(...ranking.layers[l].richness)), H - 1);
  assert.deepEqual(report.selection.selected, selection.selected);
  assert.deepEqual(mask.mask, selection.mask);
  assert.deepEqual(reportGrid(report).mask, mask.mask);
  // The report is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});

test('strategies: correlation = uniform PageRank, richness = normalised richness, random is seeded, all selects all but excluded', () => {
  const stats = syntheticStatistics();
  const richness = Array.from({ length: L }, (_, l) => stats.richness(l));
  const corr = Array.from({ length: L }, (_, l) => stats.correlation(l));
  const hifi = rankHeads(richness, corr, { strategy: 'hifi' });
  const byCorr = rankHeads(richness, corr, { strategy: 'correlation' });
  const byRich = rankHeads(richness, corr, { strategy: 'richness' });
  const rnd = rankHeads(richness, corr, { strategy: 'random', seed: 5 });
  for (let l = 0; l < L; l++) {
    assert.deepEqual(byCorr.scores[l], hifi.layers[l].pageRankUniform.scores);
    assert.deepEqual(byRich.scores[l], normaliseWithinLayer(richness)[l]);
    assert.deepEqual(rnd.scores[l], randomScores(L, H, 5)[l]);
    assert.notDeepEqual(hifi.scores[l], byCorr.scores[l], 'the richness teleport changes the scores');
  }
  const all = rankAndSelect(stats, { strategy: 'all', budget: { perLayer: 1 }, exclude: [[1, 2]] });
  assert.equal(all.selection.selected.length, L * H - 1);
  assert.equal(all.mask.mask[1][2], 0);
  assert.throws(() => rankHeads(richness, corr, { strategy: 'best' as never }), /unknown strategy "best"/);
});

test('ranksInLayer: 1-based, descending, ties to the lower head', () => {
  assert.deepEqual(ranksInLayer([0.2, 0.5, 0.2, 0.1]), [2, 1, 3, 4]);
});

test('head mask file: built from a selection, parsed back, and inconsistent files rejected', () => {
  const file = headMaskFile(2, 3, [[1, 2], [0, 0]]);
  assert.deepEqual(file, { schemaVersion: 1, numLayers: 2, numHeads: 3, mask: [[1, 0, 0], [0, 0, 1]], selected: [[0, 0], [1, 2]] });
  assert.deepEqual(parseHeadMask(JSON.parse(JSON.stringify(file))), file);
  assert.throws(() => parseHeadMask({ ...file, schemaVersion: 2 }, 'm.json'), (e: unknown) => e instanceof HeadMaskError && /m.json: unsupported schemaVersion 2/.test(e.message));
  assert.throws(() => parseHeadMask({ ...file, mask: [[1, 0, 0], [0, 0, 2]] }), /mask\[1\]\[2\] must be 0 or 1/);
  assert.throws(() => parseHeadMask({ ...file, mask: [[1, 0, 0]] }), /array of 2 rows/);
  assert.throws(() => parseHeadMask({ ...file, selected: [[0, 0]] }), /"mask" and "selected" disagree/);
  assert.throws(() => parseHeadMask({ ...file, selected: [[0, 0], [1, 3]] }), /selected\[1\]: head 3 out of range/);
  assert.throws(() => parseHeadMask([]), /expected a JSON object/);
  assert.throws(() => headMaskFile(2, 3, [[2, 0]]), /layer 2 out of range/);
});

test('GEXF export: one document, layer-prefixed node keys, attributes and weights survive a parse', () => {
  const stats = syntheticStatistics();
  const { ranking, selection } = rankAndSelect(stats, { budget: { total: 5 } });
  const xml = headGraphsToGexf(ranking.layers.map((x) => x.graph), { scores: ranking.scores, mask: selection.mask });
  assert.match(xml, /^<\?xml/);
  const g = parse(UndirectedGraph, xml);
  assert.equal(g.order, L * H);
  assert.equal(g.size, ranking.layers.reduce((s, x) => s + x.graph.size, 0));
  assert.ok(g.hasNode('L2H3'));
  const a = g.getNodeAttributes('L1H2');
  assert.equal(a.layer, 1);
  assert.equal(a.head, 2);
  assertClose(a.richness as number, ranking.layers[1].richness[2], 1e-9, 'richness');
  assertClose(a.score as number, ranking.scores[1][2], 1e-9, 'score');
  assert.equal(a.selected, selection.mask[1][2] === 1);
  const e = g.edge('L0H0', 'L0H1')!;
  assertClose(g.getEdgeAttribute(e, 'weight') as number, ranking.layers[0].correlation[1], 1e-9, 'edge weight');
  assert.equal(g.edge('L0H0', 'L1H0'), undefined, 'no edges across layers');
});

test('SVG heat map: one cell per head coloured by score, selected heads outlined, labels and legend', () => {
  const scores = [[0.1, 0.4], [0.3, 0.2], [0.25, 0.25]];
  const mask = [[0, 1], [1, 0], [0, 0]];
  const svg = headHeatmapSvg({ scores, mask, title: 'SST-2 <hifi>' });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal((svg.match(/<title>layer \d, head \d: score/g) ?? []).length, 6);
  assert.equal((svg.match(/class="selected"/g) ?? []).length, 2);
  assert.ok(svg.includes(`fill="${viridis(1)}"`), 'the highest score gets the top colour');
  assert.ok(svg.includes(`fill="${viridis(0)}"`), 'the lowest score gets the bottom colour');
  assert.ok(svg.includes('SST-2 &lt;hifi&gt;'), 'the title is escaped');
  assert.ok(svg.includes('>layer<') && svg.includes('>head<') && svg.includes('>selected<') && svg.includes('linearGradient'));
  assert.ok(svg.includes('>0.400<') && svg.includes('>0.100<'), 'legend shows the score range');
  assert.throws(() => headHeatmapSvg({ scores, mask: [[0, 1]] }), /mask must be 3×2/);
  // Balanced tags (a cheap well-formedness check).
  const opens = (svg.match(/<(?!\/|\?)[a-zA-Z]+[^>]*[^/]>/g) ?? []).length;
  const closes = (svg.match(/<\/[a-zA-Z]+>/g) ?? []).length;
  assert.equal(opens, closes);
  // A long title widens the picture instead of being cut off at the legend.
  const width = (x: string) => Number(/^<svg[^>]* width="(\d+)"/.exec(x)![1]);
  const long = headHeatmapSvg({ scores, mask, title: 'hifi head scores — glue:sst2, 256 examples (seed 0), a long title' });
  assert.ok(width(long) > width(svg), `${width(long)} > ${width(svg)}`);
  assert.ok(width(long) >= 64 + 66 * 14 * 0.5, 'at least about half an em per character of the title');
});

test('viridis endpoints and clamping', () => {
  assert.equal(viridis(0), '#440154');
  assert.equal(viridis(1), '#fde725');
  assert.equal(viridis(-3), viridis(0));
  assert.equal(viridis(7), viridis(1));
});
