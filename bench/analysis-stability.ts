// Stability of the head ranking (HiFi strategy) on bert-mini-hifi with GLUE SST-2 and RTE: how much do the scores
// and the selected heads move when the sampled examples change (3 seeds) and with the sample size (64/256/1024)?
// Baseline: the `random` strategy's selections across the same seeds. Examples go through the same code as
// `hifi analyze` (seeded sample of the training split, the model's tokenizer, length-sorted batches of 32, ≤ 128 tokens).
//
//   node --import tsx bench/analysis-stability.ts [--model DIR] [--data-dir DIR] [--quick]
//
// Prints the tables and writes bench/results/analysis-stability.json, plus the head report, mask, GEXF and SVG of
// SST-2 and RTE at N = 256, seed 0 (k = 4 per layer) under bench/results/analysis-{sst2,rte}-n256-seed0/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPretrained } from '@hifi/engine';
import { sample, spearman } from '@hifi/data';
import { analyzeHeads, rankAndSelect, type HeadAnalysis, type HeadRef } from '@hifi/hifi';
import { baseModelFingerprint } from '@hifi/trainer/base-fingerprint.ts';
import { lengthSortedBatches, loadTaskExamples, tokenizeForAnalysis, writeAnalysisOutputs } from '@hifi/cli/commands/analyze.ts';

const root = resolve(import.meta.dirname, '..');
const sharedDir = resolve(root, process.env.HIFI_SHARED ?? '../shared');
// Lenient parsing: bench/run.ts passes the same arguments to every script, so options meant for others are ignored.
const { values: raw } = parseArgs({
  strict: false,
  options: { model: { type: 'string' }, 'data-dir': { type: 'string' }, quick: { type: 'boolean' } },
});
const quick = raw.quick === true; // N ∈ {64, 256} only; results go to analysis-stability-quick.{json,txt}
const args = {
  model: typeof raw.model === 'string' ? raw.model : join(sharedDir, 'models/bert-mini-hifi'),
  'data-dir': typeof raw['data-dir'] === 'string' ? raw['data-dir'] : join(sharedDir, 'data/glue'),
};

const TASKS = ['glue:sst2', 'glue:rte'];
const SIZES = quick ? [64, 256] : [64, 256, 1024];
const SEEDS = [0, 1, 2];
const KS = [2, 4];
const SEED_PAIRS: [number, number][] = [[0, 1], [0, 2], [1, 2]];

interface Run {
  task: string;
  samples: number;
  seed: number;
  /** scores[l][h]: the HiFi score (personalised PageRank within the layer). */
  scores: number[][];
  richness: number[][];
  /** Selected heads per k. */
  selected: Record<number, HeadRef[]>;
  analysisMs: number;
  examplesUsed: number;
  tokensUsed: number;
}

// ---- rank statistics

/** Kendall's τ-b between two equally long series (ties in either series handled). */
function kendall(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tiesX++;
      else if (dy === 0) tiesY++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY));
  return denom === 0 ? 0 : (concordant - discordant) / denom;
}

const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const key = ([l, h]: HeadRef) => `${l}.${h}`;

interface Agreement {
  /** Mean over layers of |A_l ∩ B_l| / k. */
  overlap: number;
  /** Mean over layers of |A_l ∩ B_l| / |A_l ∪ B_l|. */
  jaccard: number;
}

function agreement(a: readonly HeadRef[], b: readonly HeadRef[], numLayers: number, k: number): Agreement {
  const overlaps: number[] = [];
  const jaccards: number[] = [];
  for (let l = 0; l < numLayers; l++) {
    const A = new Set(a.filter(([al]) => al === l).map(key));
    const B = new Set(b.filter(([bl]) => bl === l).map(key));
    const inter = [...A].filter((x) => B.has(x)).length;
    overlaps.push(inter / k);
    jaccards.push(inter / new Set([...A, ...B]).size);
  }
  return { overlap: mean(overlaps), jaccard: mean(jaccards) };
}

interface ScoreCorrelation {
  /** Mean over layers of the Spearman / Kendall correlation of the 8 heads' scores. */
  spearmanInLayer: number;
  kendallInLayer: number;
  /** Spearman over all heads (HiFi scores sum to 1 in each layer, so they compare across layers). */
  spearmanAll: number;
}

function scoreCorrelation(a: number[][], b: number[][]): ScoreCorrelation {
  return {
    spearmanInLayer: mean(a.map((row, l) => spearman(row, b[l]))),
    kendallInLayer: mean(a.map((row, l) => kendall(row, b[l]))),
    spearmanAll: spearman(a.flat(), b.flat()),
  };
}

interface Comparison extends ScoreCorrelation {
  label: string;
  pairs: number;
  /** Per k: the mean agreement of the selected sets. */
  sets: Record<number, Agreement>;
}

function compare(label: string, pairs: [Run, Run][], numLayers: number): Comparison {
  const corr = pairs.map(([a, b]) => scoreCorrelation(a.scores, b.scores));
  const sets: Record<number, Agreement> = {};
  for (const k of KS) {
    const ag = pairs.map(([a, b]) => agreement(a.selected[k], b.selected[k], numLayers, k));
    sets[k] = { overlap: mean(ag.map((g) => g.overlap)), jaccard: mean(ag.map((g) => g.jaccard)) };
  }
  return {
    label, pairs: pairs.length, sets,
    spearmanInLayer: mean(corr.map((c) => c.spearmanInLayer)),
    kendallInLayer: mean(corr.map((c) => c.kendallInLayer)),
    spearmanAll: mean(corr.map((c) => c.spearmanAll)),
  };
}

/** Expected |A ∩ B| / k for two independent uniformly random k-subsets of H heads (hypergeometric mean k/H). */
const randomOverlap = (k: number, H: number) => k / H;
/** Expected Jaccard of two independent random k-subsets of H: E[i / (2k − i)], i hypergeometric. */
function randomJaccard(k: number, H: number): number {
  const choose = (n: number, r: number): number => (r < 0 || r > n ? 0 : r === 0 ? 1 : (choose(n - 1, r - 1) * n) / r);
  let e = 0;
  for (let i = 0; i <= k; i++) e += ((choose(k, i) * choose(H - k, k - i)) / choose(H, k)) * (i / (2 * k - i));
  return e;
}

// ---- runs

async function main(): Promise<void> {
  const p = await loadPretrained(args.model);
  const { numLayers: L, numHeads: H } = p.config;
  const fingerprint = baseModelFingerprint(p.config, p.model.stateDict());
  const maxLength = Math.min(128, p.maxLength);
  const runs: Run[] = [];
  const resultsDir = join(root, 'bench/results');
  await mkdir(resultsDir, { recursive: true });
  let someAnalysis: HeadAnalysis | undefined;
  for (const taskName of TASKS) {
    const task = await loadTaskExamples(taskName, args['data-dir']);
    for (const samples of SIZES) {
      for (const seed of SEEDS) {
        const batches = lengthSortedBatches(tokenizeForAnalysis(p, sample(task.examples, samples, seed), maxLength), 32, p.tokenizer.padTokenId);
        const t = performance.now();
        const analysis = await analyzeHeads(p.model, batches, { strategy: 'hifi', budget: { perLayer: 4 }, seed, modelFingerprint: fingerprint });
        const analysisMs = performance.now() - t;
        someAnalysis = analysis;
        const selected: Record<number, HeadRef[]> = {};
        for (const k of KS) {
          selected[k] = rankAndSelect(analysis.statistics, { strategy: 'hifi', budget: { perLayer: k }, hiddenSize: p.config.hiddenSize }).selection.selected;
        }
        const grid = (f: (h: HeadAnalysis['report']['heads'][number]) => number) =>
          Array.from({ length: L }, (_, l) => analysis.report.heads.filter((e) => e.layer === l).sort((a, b) => a.head - b.head).map(f));
        runs.push({
          task: taskName, samples, seed, scores: grid((e) => e.score), richness: grid((e) => e.richness), selected, analysisMs,
          examplesUsed: analysis.report.data.examplesUsed, tokensUsed: analysis.report.data.tokensUsed,
        });
        if (samples === 256 && seed === 0 && !quick) {
          const dir = join(resultsDir, `analysis-${taskName.replace('glue:', '')}-n256-seed0`);
          await writeAnalysisOutputs(dir, analysis, `hifi head scores — ${taskName}, ${analysis.report.data.examplesUsed} examples (seed 0)`);
        }
        process.stderr.write(`${taskName} N=${samples} seed=${seed}: ${analysisMs.toFixed(0)} ms, k=2 ${selected[2].map(key).join(' ')}\n`);
      }
    }
  }
  p.model.dispose();

  // Random strategy: scores depend only on the seed.
  const randomSelections = SEEDS.map((seed) => Object.fromEntries(KS.map((k) => [k,
    rankAndSelect(someAnalysis!.statistics, { strategy: 'random', seed, budget: { perLayer: k } }).selection.selected])) as Record<number, HeadRef[]>);
  const randomScores = SEEDS.map((seed) => {
    const r = rankAndSelect(someAnalysis!.statistics, { strategy: 'random', seed, budget: { perLayer: 2 } }).report.heads;
    return Array.from({ length: L }, (_, l) => r.filter((e) => e.layer === l).sort((a, b) => a.head - b.head).map((e) => e.score));
  });
  const randomRuns: Run[] = SEEDS.map((seed, i) => ({
    task: 'random', samples: 0, seed, scores: randomScores[i], richness: [], selected: randomSelections[i], analysisMs: 0, examplesUsed: 0, tokensUsed: 0,
  }));

  const find = (task: string, samples: number, seed: number) => runs.find((r) => r.task === task && r.samples === samples && r.seed === seed)!;
  const comparisons: Record<string, Comparison[]> = {};
  for (const task of TASKS) {
    const list: Comparison[] = [];
    for (const n of SIZES) list.push(compare(`seeds, N=${n}`, SEED_PAIRS.map(([a, b]) => [find(task, n, a), find(task, n, b)]), L));
    for (const [n1, n2] of quick ? [[64, 256]] : [[64, 1024], [256, 1024], [64, 256]]) {
      list.push(compare(`N=${n1} vs N=${n2}`, SEEDS.map((s) => [find(task, n1, s), find(task, n2, s)]), L));
    }
    comparisons[task] = list;
  }
  comparisons['glue:sst2 vs glue:rte'] = SIZES.map((n) => compare(`N=${n}, same seed`, SEEDS.map((s) => [find('glue:sst2', n, s), find('glue:rte', n, s)]), L));
  comparisons.random = [compare('random strategy, seeds', SEED_PAIRS.map(([a, b]) => [randomRuns[a], randomRuns[b]]), L)];

  // ---- tables
  const f2 = (v: number) => v.toFixed(2).padStart(6);
  const header = `${'comparison'.padEnd(28)} ${'pairs'.padStart(5)} ${'ovl k2'.padStart(6)} ${'Jac k2'.padStart(6)} ${'ovl k4'.padStart(6)} ${'Jac k4'.padStart(6)} ${'ρ layer'.padStart(7)} ${'τ layer'.padStart(7)} ${'ρ all'.padStart(6)}`;
  const line = (c: Comparison) => `${c.label.padEnd(28)} ${String(c.pairs).padStart(5)} ${f2(c.sets[2].overlap)} ${f2(c.sets[2].jaccard)} ${f2(c.sets[4].overlap)} ${f2(c.sets[4].jaccard)} ${f2(c.spearmanInLayer).padStart(7)} ${f2(c.kendallInLayer).padStart(7)} ${f2(c.spearmanAll)}`;
  const out: string[] = [
    `Stability of the HiFi head ranking — bert-mini-hifi (${L} layers × ${H} heads), GLUE train splits, ${SEEDS.length} seeds × N ∈ {${SIZES.join(', ')}}`,
    'ovl = mean over layers of |A ∩ B| / k; Jac = mean over layers of the Jaccard index; ρ/τ layer = mean over layers of the',
    `Spearman / Kendall τ-b of the ${H} heads' scores; ρ all = Spearman over all ${L * H} scores. Each row averages its pairs.`,
    `Random k-of-${H} expectation: ovl k2 ${randomOverlap(2, H).toFixed(2)}, Jac k2 ${randomJaccard(2, H).toFixed(2)}, ovl k4 ${randomOverlap(4, H).toFixed(2)}, Jac k4 ${randomJaccard(4, H).toFixed(2)}.`,
  ];
  for (const [group, list] of Object.entries(comparisons)) out.push('', group, header, ...list.map(line));

  // Which heads dominate: selection frequency over the 9 runs of each task (k = 2), and mean scores at N = 1024.
  for (const task of TASKS) {
    const taskRuns = runs.filter((r) => r.task === task);
    const nMax = SIZES[SIZES.length - 1];
    out.push('', `${task}: how often each head is selected with k = 2 (of ${taskRuns.length} runs) | mean score at N=${nMax} | mean richness at N=${nMax}`);
    out.push(`${'layer'.padEnd(6)} ${Array.from({ length: H }, (_, h) => `h${h}`.padStart(3)).join('')}   | ${Array.from({ length: H }, (_, h) => `h${h}`.padStart(6)).join('')} | ${Array.from({ length: H }, (_, h) => `h${h}`.padStart(6)).join('')}`);
    const big = taskRuns.filter((r) => r.samples === SIZES[SIZES.length - 1]);
    for (let l = 0; l < L; l++) {
      const freq = Array.from({ length: H }, (_, h) => taskRuns.filter((r) => r.selected[2].some(([sl, sh]) => sl === l && sh === h)).length);
      const score = Array.from({ length: H }, (_, h) => mean(big.map((r) => r.scores[l][h])));
      const rich = Array.from({ length: H }, (_, h) => mean(big.map((r) => r.richness[l][h])));
      out.push(`${String(l).padEnd(6)} ${freq.map((v) => String(v).padStart(3)).join('')}   | ${score.map((v) => v.toFixed(3).padStart(6)).join('')} | ${rich.map((v) => v.toFixed(1).padStart(6)).join('')}`);
    }
    // How far the PageRank scores follow the richness teleport.
    const rhoRich = mean(big.map((r) => mean(r.scores.map((row, l) => spearman(row, r.richness[l])))));
    out.push(`Spearman(score, richness) within layers at N=${nMax}: ${rhoRich.toFixed(2)}`);
  }
  const timing = TASKS.map((t) => `${t}: ${SIZES.map((n) => `N=${n} ${mean(runs.filter((r) => r.task === t && r.samples === n).map((r) => r.analysisMs)).toFixed(0)} ms`).join(', ')}`);
  out.push('', `analysis time (mean of the ${SEEDS.length} seeds): ${timing.join('; ')}`);
  console.log(out.join('\n'));

  const stem = quick ? 'analysis-stability-quick' : 'analysis-stability';
  await writeFile(join(resultsDir, `${stem}.json`), `${JSON.stringify({
    model: args.model, tasks: TASKS, sizes: SIZES, seeds: SEEDS, ks: KS, comparisons, runs, randomRuns, date: new Date().toISOString(),
  }, null, 1)}\n`);
  await writeFile(join(resultsDir, `${stem}.txt`), `${out.join('\n')}\n`);
}

await main();
