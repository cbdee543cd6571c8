// From per-layer statistics to per-head scores: build each layer's head graph, run PageRank with a teleport
// proportional to richness (HiFi) and with a uniform teleport (correlation only), and pick the scores of the
// chosen strategy.
//   hifi         personalised PageRank (teleport ∝ richness)
//   correlation  PageRank with a uniform teleport: correlation structure only
//   richness     richness normalised within the layer: no graph
//   random       seeded uniform random scores (a baseline)
//   all          every head (scores are the HiFi ones, for the report; the selection ignores the budget)
// Every strategy's scores sum to 1 within a layer except `random`, so global budgets compare layers fairly.
import { buildHeadGraph, headKey, type HeadGraph } from './headGraph.ts';
import { pageRank, PAGE_RANK_DEFAULTS, type PageRankResult } from './pageRank.ts';
import { normaliseWithinLayer, randomScores } from './selectHeads.ts';

export type SelectionStrategy = 'hifi' | 'random' | 'richness' | 'correlation' | 'all';
export const SELECTION_STRATEGIES: readonly SelectionStrategy[] = ['hifi', 'random', 'richness', 'correlation', 'all'];

export interface RankHeadsOptions {
  strategy?: SelectionStrategy;
  /** PageRank damping (default 0.85). */
  damping?: number;
  /** PageRank per-node L1 tolerance (default 1e-10). */
  tolerance?: number;
  /** PageRank iteration cap (default 1000). */
  maxIterations?: number;
  /** Correlations ≤ this give no edge (default 0). */
  edgeThreshold?: number;
  /** Seed of the `random` strategy (default 0). */
  seed?: number;
}

export interface LayerRanking {
  layer: number;
  graph: HeadGraph;
  richness: Float64Array;
  /** Richness / sum of the layer's richness. */
  richnessNorm: Float64Array;
  /** Row-major [H, H] mean RV coefficients. */
  correlation: Float64Array;
  /** Personalised PageRank (teleport ∝ richness), per head. */
  pageRank: PageRankResult;
  /** PageRank with a uniform teleport, per head. */
  pageRankUniform: PageRankResult;
  /** The strategy's score per head. */
  scores: Float64Array;
}

export interface HeadRanking {
  strategy: SelectionStrategy;
  layers: LayerRanking[];
  /** scores[layer][head] of the strategy. */
  scores: Float64Array[];
}

export function rankHeads(richness: readonly ArrayLike<number>[], correlation: readonly ArrayLike<number>[], opts: RankHeadsOptions = {}): HeadRanking {
  const strategy = opts.strategy ?? 'hifi';
  if (!SELECTION_STRATEGIES.includes(strategy)) throw new RangeError(`rankHeads: unknown strategy ${JSON.stringify(strategy)} (expected one of ${SELECTION_STRATEGIES.join(', ')})`);
  if (richness.length !== correlation.length) throw new RangeError(`rankHeads: richness has ${richness.length} layers but correlation has ${correlation.length}`);
  const L = richness.length;
  const H = L > 0 ? richness[0].length : 0;
  const pr = {
    damping: opts.damping ?? PAGE_RANK_DEFAULTS.damping,
    tolerance: opts.tolerance ?? PAGE_RANK_DEFAULTS.tolerance,
    maxIterations: opts.maxIterations ?? PAGE_RANK_DEFAULTS.maxIterations,
  };
  const random = strategy === 'random' ? randomScores(L, H, opts.seed ?? 0) : undefined;
  const richnessNorm = normaliseWithinLayer(richness);
  const layers = richness.map((rich, l): LayerRanking => {
    const graph = buildHeadGraph(l, rich, correlation[l], { edgeThreshold: opts.edgeThreshold });
    const personalised = inHeadOrder(pageRank(graph, { ...pr, teleport: { attribute: 'richness' } }), l, H);
    const uniform = inHeadOrder(pageRank(graph, { ...pr, teleport: 'uniform' }), l, H);
    let scores: Float64Array;
    switch (strategy) {
      case 'hifi': case 'all': scores = personalised.scores; break;
      case 'correlation': scores = uniform.scores; break;
      case 'richness': scores = richnessNorm[l]; break;
      case 'random': scores = random![l]; break;
    }
    return {
      layer: l, graph, richness: Float64Array.from(rich), richnessNorm: richnessNorm[l], correlation: Float64Array.from(correlation[l]),
      pageRank: personalised, pageRankUniform: uniform, scores,
    };
  });
  return { strategy, layers, scores: layers.map((x) => x.scores) };
}

/** Reorders a PageRank result so that index h is head h of the layer. */
function inHeadOrder(result: PageRankResult, layer: number, H: number): PageRankResult {
  const pos = new Map(result.nodes.map((k, i) => [k, i]));
  const nodes: string[] = [];
  const scores = new Float64Array(H);
  const teleport = new Float64Array(H);
  for (let h = 0; h < H; h++) {
    const key = headKey(layer, h);
    const i = pos.get(key);
    if (i === undefined) throw new Error(`rankHeads: node ${key} missing from the layer graph`);
    nodes.push(key);
    scores[h] = result.scores[i];
    teleport[h] = result.teleport[i];
  }
  return { ...result, nodes, scores, teleport };
}
