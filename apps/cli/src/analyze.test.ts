// `hifi analyze` end to end: the real command in a child process on the tiny-bert fixture, with GLUE SST-2 from the
// shared data and with a small custom JSONL file; the four output files and their agreement with each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UndirectedGraph } from 'graphology';
import { parse as parseGexf } from 'graphology-gexf';
import { parseHeadMask, type HeadReport } from '@hifi/hifi';

const execFileAsync = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');
const shared = resolve(root, process.env.HIFI_SHARED ?? '../shared');
const bin = join(root, 'apps/cli/bin/hifi.mjs');
const model = join(shared, 'fixtures/tiny-bert');
const glueDir = join(shared, 'data/glue');

async function hifi(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, HIFI_BACKEND: 'wasm', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const key = ([l, h]: readonly number[]) => `${l}.${h}`;

/** Reads the four outputs of one run and checks that they describe the same selection. */
async function checkOutputs(dir: string, expect: { examples: number; strategy: string; selectedCount?: number; perLayer?: number }): Promise<HeadReport> {
  const config = JSON.parse(await readFile(join(model, 'config.json'), 'utf8')) as { num_hidden_layers: number; num_attention_heads: number };
  const L = config.num_hidden_layers;
  const H = config.num_attention_heads;

  const report = JSON.parse(await readFile(join(dir, 'heads.json'), 'utf8')) as HeadReport;
  assert.equal(report.kind, 'hifi-head-report');
  assert.equal(report.schemaVersion, 1);
  assert.deepEqual([report.model.numLayers, report.model.numHeads], [L, H]);
  assert.match(report.model.fingerprint ?? '', /^[0-9a-f]{64}$/);
  assert.equal(report.data.examplesSeen, expect.examples);
  assert.equal(report.analysis.strategy, expect.strategy);
  assert.equal(report.heads.length, L * H);
  const selected = report.selection.selected.map(key).sort();
  assert.equal(selected.length, expect.selectedCount ?? L * expect.perLayer!);
  assert.deepEqual(report.heads.filter((h) => h.selected).map((h) => key([h.layer, h.head])).sort(), selected, 'heads[].selected agrees with selection.selected');
  if (expect.perLayer !== undefined) {
    for (let l = 0; l < L; l++) assert.equal(report.selection.selected.filter(([sl]) => sl === l).length, expect.perLayer, `layer ${l}`);
  }

  // head_mask.json: valid, and the same heads as the report.
  const mask = parseHeadMask(JSON.parse(await readFile(join(dir, 'head_mask.json'), 'utf8')), 'head_mask.json');
  assert.deepEqual(mask.selected.map(key).sort(), selected, 'mask.selected == report selection');
  const fromGrid: string[] = [];
  mask.mask.forEach((row, l) => row.forEach((v, h) => { if (v === 1) fromGrid.push(key([l, h])); }));
  assert.deepEqual(fromGrid.sort(), selected, 'mask grid == report selection');

  // heads.svg: one cell per head, and exactly the selected heads are marked.
  const svg = await readFile(join(dir, 'heads.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  const titles = [...svg.matchAll(/<title>layer (\d+), head (\d+): score ([^<]*)<\/title>/g)];
  assert.equal(titles.length, L * H);
  const marked = titles.filter((m) => m[3].endsWith('(selected)')).map((m) => key([Number(m[1]), Number(m[2])])).sort();
  assert.deepEqual(marked, selected, 'SVG marks the selected heads');
  assert.equal([...svg.matchAll(/<rect class="selected"/g)].length, selected.length);

  // graph.gexf: parses, one node per head, selection and scores carried over.
  const graph = parseGexf(UndirectedGraph, await readFile(join(dir, 'graph.gexf'), 'utf8'));
  assert.equal(graph.order, L * H);
  const gexfSelected = graph.filterNodes((_n, a) => a.selected === true || a.selected === 'true').map((n) => {
    const a = graph.getNodeAttributes(n);
    return key([Number(a.layer), Number(a.head)]);
  }).sort();
  assert.deepEqual(gexfSelected, selected, 'GEXF node attributes mark the selected heads');
  const entry = report.heads[0];
  const node = graph.findNode((_n, a) => Number(a.layer) === entry.layer && Number(a.head) === entry.head);
  assert.ok(node !== undefined);
  assert.ok(Math.abs(Number(graph.getNodeAttribute(node, 'score')) - entry.score) < 1e-6, 'GEXF score == report score');
  graph.forEachEdge((_e, a, s, t) => {
    assert.equal(graph.getNodeAttribute(s, 'layer'), graph.getNodeAttribute(t, 'layer'), 'edges stay within a layer');
    const w = Number(a.weight);
    assert.ok(w > 0 && w <= 1, `edge weight ${w} is an RV coefficient`);
  });
  return report;
}

test('hifi analyze on tiny-bert with GLUE SST-2 writes a consistent report, mask, GEXF graph and SVG', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-analyze-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'out');
  const res = await hifi(['analyze', '--model', model, '--task', 'glue:sst2', '--samples', '40', '--heads-per-layer', '2',
    '--batch-size', '8', '--max-length', '32', '--seed', '3', '--out', out], { GLUE_DIR: glueDir });
  assert.equal(res.code, 0, res.stderr);
  const report = await checkOutputs(out, { examples: 40, strategy: 'hifi', perLayer: 2 });
  assert.deepEqual(report.analysis.budget, { perLayer: 2 });
  // The summary names every layer's selected heads and the timings.
  for (let l = 0; l < report.model.numLayers; l++) {
    const heads = report.selection.selected.filter(([sl]) => sl === l).map(([, h]) => h).join(' ');
    assert.match(res.stdout, new RegExp(`layer +${l}: ${heads}\\n`));
  }
  assert.match(res.stdout, /on glue:sst2: 40 examples \(40 used/);
  assert.match(res.stdout, /timings: load [\d.]+ s, tokenise [\d.]+ s, analysis [\d.]+ s \(forward/);

  // The same seed gives the same analysis; --data-dir works without GLUE_DIR.
  const again = join(dir, 'again');
  const res2 = await hifi(['analyze', '--model', model, '--task', 'SST-2', '--data-dir', glueDir, '--samples', '40', '--heads-per-layer', '2',
    '--batch-size', '8', '--max-length', '32', '--seed', '3', '--out', again], { GLUE_DIR: '' });
  assert.equal(res2.code, 0, res2.stderr);
  const report2 = JSON.parse(await readFile(join(again, 'heads.json'), 'utf8')) as HeadReport;
  assert.equal(report2.data.hash, report.data.hash);
  assert.deepEqual(report2.heads, report.heads);
});

test('hifi analyze on a custom JSONL file (random strategy, total budget) and clear errors for bad input', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-analyze-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({
    text: `review number ${i}: the film was ${i % 2 ? 'wonderful and moving' : 'dull, long and badly acted'}${i % 3 ? ', sadly' : ''}.`,
    label: i % 2 ? 'pos' : 'neg',
  }));
  lines.push(JSON.stringify({ text: 'a', label: 'pos' })); // [CLS] a [SEP]: still ≥ 2 tokens
  const file = join(dir, 'reviews.jsonl');
  await writeFile(file, lines.join('\n') + '\n');
  const out = join(dir, 'out');
  const res = await hifi(['analyze', '--model', model, '--task', file, '--strategy', 'random', '--total-heads', '3', '--seed', '5', '--out', out]);
  assert.equal(res.code, 0, res.stderr);
  // 31 rows, 10% (3) held out for validation by the loader: the analysis reads the 28 training rows.
  const report = await checkOutputs(out, { examples: 28, strategy: 'random', selectedCount: 3 });
  assert.deepEqual(report.analysis.budget, { total: 3 });
  assert.equal(report.analysis.seed, 5);
  assert.match(res.stdout, new RegExp(`on file:${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 28 examples`));

  const bad = join(dir, 'bad.jsonl');
  await writeFile(bad, '{"text": "fine", "label": 1}\n{not json}\n{"text": 3, "label": 0}\n');
  const badFile = await hifi(['analyze', '--model', model, '--task', bad, '--out', join(dir, 'x')]);
  assert.equal(badFile.code, 1);
  assert.match(badFile.stderr, /\[INVALID_DATASET\] .*bad\.jsonl: .*line 2/);

  const unknown = await hifi(['analyze', '--model', model, '--task', 'glue:nope', '--out', join(dir, 'x')], { GLUE_DIR: glueDir });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown task "glue:nope"; known tasks: CoLA, SST-2/);

  const badModel = await hifi(['analyze', '--model', join(dir, 'no-model'), '--task', file, '--out', join(dir, 'x')]);
  assert.equal(badModel.code, 1);
  assert.match(badModel.stderr, /no-model: no such directory/);

  const usage = await hifi(['analyze', '--model', model, '--task', file, '--out', join(dir, 'x'), '--heads-per-layer', '2', '--total-heads', '3']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /at most one of --heads-per-layer and --total-heads/);
});
