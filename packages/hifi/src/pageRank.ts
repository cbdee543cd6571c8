// Weighted, personalised PageRank by power iteration on a graphology graph.
//
//   x_{k+1} = d·Pᵀx_k + d·(Σ_{i dangling} x_k[i])·t + (1 − d)·t,   P_ij = w_ij / Σ_k w_ik,
//
// with damping d, teleport distribution t (uniform, or proportional to a node attribute such as richness) and
// dangling nodes (no edge weight) jumping along t. Undirected edges count in both directions; a self loop counts
// once. The start vector is t. Iteration stops when ||x_{k+1} − x_k||_1 < N·tolerance (the criterion of
// graphology-metrics' pagerank, so that with a uniform teleport both give the same answer) or after maxIterations.
// Non-convergence is reported, not thrown.
import type { AbstractGraph, Attributes } from 'graphology-types';

export type Teleport =
  | 'uniform'
  /** Proportional to a numeric node attribute (all zero → uniform). */
  | { attribute: string }
  /** Explicit non-negative weight per node key, normalised here (missing keys → 0; all zero → uniform). */
  | ReadonlyMap<string, number>;

export interface PageRankOptions {
  /** Damping factor d in [0, 1) (default 0.85). */
  damping?: number;
  /** Per-node L1 tolerance (default 1e-10). */
  tolerance?: number;
  /** Default 1000. */
  maxIterations?: number;
  teleport?: Teleport;
  /** Edge attribute holding the weight (default "weight"; a missing attribute counts as 1, as in graphology). */
  weightAttribute?: string;
}

export interface PageRankResult {
  /** Node keys in graph order. */
  nodes: string[];
  /** Scores in the order of `nodes`; they sum to 1. */
  scores: Float64Array;
  /** The normalised teleport distribution used. */
  teleport: Float64Array;
  iterations: number;
  converged: boolean;
  /** Final L1 change between the last two iterates. */
  residual: number;
}

export const PAGE_RANK_DEFAULTS = { damping: 0.85, tolerance: 1e-10, maxIterations: 1000 } as const;

export function pageRank<N extends Attributes, E extends Attributes>(graph: AbstractGraph<N, E>, opts: PageRankOptions = {}): PageRankResult {
  const damping = opts.damping ?? PAGE_RANK_DEFAULTS.damping;
  const tolerance = opts.tolerance ?? PAGE_RANK_DEFAULTS.tolerance;
  const maxIterations = opts.maxIterations ?? PAGE_RANK_DEFAULTS.maxIterations;
  const weightAttribute = opts.weightAttribute ?? 'weight';
  if (!(damping >= 0 && damping < 1)) throw new RangeError(`pageRank: damping must be in [0, 1), got ${damping}`);
  if (!(tolerance > 0)) throw new RangeError(`pageRank: tolerance must be > 0, got ${tolerance}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`pageRank: maxIterations must be a positive integer, got ${maxIterations}`);

  const nodes = graph.nodes();
  const N = nodes.length;
  const index = new Map<string, number>();
  nodes.forEach((k, i) => index.set(k, i));
  const teleport = teleportVector(graph, nodes, opts.teleport ?? 'uniform');
  if (N === 0) return { nodes, scores: new Float64Array(0), teleport, iterations: 0, converged: true, residual: 0 };

  // Adjacency as lists of (from, to, weight), out-weight per node.
  const from: number[] = [];
  const to: number[] = [];
  const weight: number[] = [];
  const outWeight = new Float64Array(N);
  graph.forEachEdge((edge, attrs, source, target, _sa, _ta, undirected) => {
    const raw = (attrs as Attributes)[weightAttribute];
    const w = raw === undefined ? 1 : raw;
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new RangeError(`pageRank: edge ${edge} (${source}–${target}) has ${weightAttribute}=${String(raw)}, expected a finite non-negative number`);
    }
    const s = index.get(source)!;
    const t = index.get(target)!;
    from.push(s); to.push(t); weight.push(w); outWeight[s] += w;
    if (undirected && s !== t) { from.push(t); to.push(s); weight.push(w); outWeight[t] += w; }
  });
  const dangling: number[] = [];
  for (let i = 0; i < N; i++) if (outWeight[i] === 0) dangling.push(i);
  const transition = weight.map((w, e) => (outWeight[from[e]] > 0 ? w / outWeight[from[e]] : 0));

  let x = Float64Array.from(teleport);
  let next = new Float64Array(N);
  let iterations = 0;
  let converged = false;
  let residual = Infinity;
  while (iterations < maxIterations) {
    iterations++;
    let danglingMass = 0;
    for (const i of dangling) danglingMass += x[i];
    for (let i = 0; i < N; i++) next[i] = (damping * danglingMass + (1 - damping)) * teleport[i];
    for (let e = 0; e < transition.length; e++) next[to[e]] += damping * x[from[e]] * transition[e];
    residual = 0;
    for (let i = 0; i < N; i++) residual += Math.abs(next[i] - x[i]);
    [x, next] = [next, x];
    if (residual < N * tolerance) { converged = true; break; }
  }
  return { nodes, scores: x, teleport, iterations, converged, residual };
}

function teleportVector<N extends Attributes, E extends Attributes>(graph: AbstractGraph<N, E>, nodes: string[], spec: Teleport): Float64Array {
  const N = nodes.length;
  const t = new Float64Array(N);
  if (spec === 'uniform') return t.fill(1 / N);
  nodes.forEach((key, i) => {
    const v = spec instanceof Map ? spec.get(key) ?? 0 : (graph.getNodeAttributes(key) as Attributes)[(spec as { attribute: string }).attribute];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`pageRank: teleport weight of node ${key} must be a finite non-negative number, got ${String(v)}`);
    t[i] = v;
  });
  const sum = t.reduce((a, b) => a + b, 0);
  if (sum === 0) return t.fill(1 / N);
  return t.map((v) => v / sum);
}

/** Scores of a result as a plain object keyed by node. */
export function scoresByNode(result: PageRankResult): Record<string, number> {
  const out: Record<string, number> = {};
  result.nodes.forEach((k, i) => (out[k] = result.scores[i]));
  return out;
}
