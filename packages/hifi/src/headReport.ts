// The head report: everything the analysis found, as a versioned JSON document (schemaVersion 1).
import type { HeadRef } from './headRef.ts';
import type { HeadRanking, SelectionStrategy } from './rankHeads.ts';
import type { HeadSelection, SelectionBudget } from './selectHeads.ts';
import type { HeadStatisticsSummary } from './headStatistics.ts';

export const HEAD_REPORT_SCHEMA_VERSION = 1;

export interface HeadReportEntry {
  layer: number;
  head: number;
  /** Mean nuclear norm of the centred head output. */
  richness: number;
  /** richness / sum of the layer's richness. */
  richnessNorm: number;
  /** The strategy's score (for hifi: personalised PageRank; sums to 1 within a layer). */
  score: number;
  /** Personalised PageRank (teleport ∝ richness). */
  pageRank: number;
  /** PageRank with a uniform teleport. */
  pageRankUniform: number;
  /** 1 = highest score of its layer (ties: lower head first). */
  rankInLayer: number;
  selected: boolean;
}

export interface PageRankRun {
  iterations: number;
  converged: boolean;
  residual: number;
}

export interface HeadReportLayer {
  layer: number;
  /** [H][H] mean RV coefficients. */
  correlation: number[][];
  pageRank: PageRankRun;
  pageRankUniform: PageRankRun;
}

export interface AnalysisConfig {
  strategy: SelectionStrategy;
  budget: SelectionBudget;
  require: HeadRef[];
  exclude: HeadRef[];
  damping: number;
  tolerance: number;
  maxIterations: number;
  edgeThreshold: number;
  seed: number;
  compute: 'host' | 'tfjs' | 'reference';
  teleport: 'richness';
}

export interface HeadReport {
  schemaVersion: typeof HEAD_REPORT_SCHEMA_VERSION;
  kind: 'hifi-head-report';
  model: { fingerprint: string | null; numLayers: number; numHeads: number; headDim: number; hiddenSize: number | null };
  data: { hash: string | null } & HeadStatisticsSummary;
  analysis: AnalysisConfig;
  selection: { selected: [number, number][]; targetCount: number; trainableParams: number | null; warnings: string[] };
  heads: HeadReportEntry[];
  layers: HeadReportLayer[];
  /**
   * Wall-clock milliseconds. statisticsMs covers the batches (model forward passes and statistics), rankingMs the
   * graphs, PageRank and selection. When present, forwardMs is the part of statisticsMs spent in the model (and, for
   * compute 'tfjs', the device Grams) and reading results, hostStatisticsMs the host-side statistics.
   */
  timings: { statisticsMs: number; rankingMs: number; totalMs: number; forwardMs?: number; hostStatisticsMs?: number };
}

export interface BuildHeadReportInput {
  ranking: HeadRanking;
  selection: HeadSelection;
  model: { fingerprint?: string | null; numLayers: number; numHeads: number; headDim: number; hiddenSize?: number | null };
  data: { hash?: string | null } & HeadStatisticsSummary;
  analysis: AnalysisConfig;
  timings: { statisticsMs: number; rankingMs: number; totalMs: number };
}

/** 1-based rank of each head within its layer by score (descending), ties broken by lower head first. */
export function ranksInLayer(scores: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, h) => h).sort((a, b) => scores[b] - scores[a] || a - b);
  const rank = new Array<number>(scores.length);
  order.forEach((h, i) => (rank[h] = i + 1));
  return rank;
}

export function buildHeadReport(input: BuildHeadReportInput): HeadReport {
  const { ranking, selection, model } = input;
  const H = model.numHeads;
  const heads: HeadReportEntry[] = [];
  const layers: HeadReportLayer[] = [];
  for (const lr of ranking.layers) {
    const ranks = ranksInLayer(lr.scores);
    for (let h = 0; h < H; h++) {
      heads.push({
        layer: lr.layer, head: h, richness: lr.richness[h], richnessNorm: lr.richnessNorm[h], score: lr.scores[h],
        pageRank: lr.pageRank.scores[h], pageRankUniform: lr.pageRankUniform.scores[h], rankInLayer: ranks[h],
        selected: selection.mask[lr.layer][h] === 1,
      });
    }
    const correlation = Array.from({ length: H }, (_, i) => Array.from(lr.correlation.subarray(i * H, (i + 1) * H)));
    layers.push({ layer: lr.layer, correlation, pageRank: runOf(lr.pageRank), pageRankUniform: runOf(lr.pageRankUniform) });
  }
  return {
    schemaVersion: HEAD_REPORT_SCHEMA_VERSION,
    kind: 'hifi-head-report',
    model: { fingerprint: model.fingerprint ?? null, numLayers: model.numLayers, numHeads: H, headDim: model.headDim, hiddenSize: model.hiddenSize ?? null },
    data: { ...input.data, hash: input.data.hash ?? null },
    analysis: input.analysis,
    selection: {
      selected: selection.selected.map(([l, h]) => [l, h]), targetCount: selection.targetCount,
      trainableParams: selection.trainableParams ?? null, warnings: selection.warnings,
    },
    heads,
    layers,
    timings: input.timings,
  };
}

function runOf(r: { iterations: number; converged: boolean; residual: number }): PageRankRun {
  return { iterations: r.iterations, converged: r.converged, residual: r.residual };
}

/** scores[layer][head] and mask[layer][head] back from a report (e.g. to draw its heat map). */
export function reportGrid(report: HeadReport): { scores: number[][]; mask: number[][] } {
  const { numLayers: L, numHeads: H } = report.model;
  const scores = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  const mask = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  for (const e of report.heads) { scores[e.layer][e.head] = e.score; mask[e.layer][e.head] = e.selected ? 1 : 0; }
  return { scores, mask };
}
