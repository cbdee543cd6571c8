// One graph per layer: nodes are the layer's attention heads (attribute `richness`), undirected edges between every
// pair of distinct heads weighted by their correlation (mean RV coefficient). No self loops: a head's correlation
// with itself is 1 by definition and carries no information about the others.
import { UndirectedGraph } from 'graphology';

export interface HeadNodeAttributes {
  layer: number;
  head: number;
  richness: number;
  /** Human-readable label, e.g. "L3 H7". */
  label: string;
}

export interface HeadEdgeAttributes {
  weight: number;
}

export type HeadGraph = UndirectedGraph<HeadNodeAttributes, HeadEdgeAttributes>;

export interface HeadGraphOptions {
  /** Edges with correlation ≤ this are left out (default 0: only exact zeros are dropped). */
  edgeThreshold?: number;
}

/** Node key of head `head` in layer `layer`: "L{layer}H{head}", unique across layers (used by the GEXF export too). */
export function headKey(layer: number, head: number): string {
  return `L${layer}H${head}`;
}

/**
 * @param richness per head, length H
 * @param correlation row-major [H, H]; only the upper triangle (i < j) is read
 */
export function buildHeadGraph(layer: number, richness: ArrayLike<number>, correlation: ArrayLike<number>, opts: HeadGraphOptions = {}): HeadGraph {
  const H = richness.length;
  const threshold = opts.edgeThreshold ?? 0;
  if (!Number.isFinite(threshold)) throw new RangeError(`buildHeadGraph: edgeThreshold must be finite, got ${threshold}`);
  if (correlation.length !== H * H) throw new RangeError(`buildHeadGraph: layer ${layer} correlation has ${correlation.length} values, expected ${H}×${H}`);
  const graph: HeadGraph = new UndirectedGraph<HeadNodeAttributes, HeadEdgeAttributes>({ allowSelfLoops: false });
  for (let h = 0; h < H; h++) {
    const r = richness[h];
    if (!Number.isFinite(r) || r < 0) throw new RangeError(`buildHeadGraph: layer ${layer} head ${h} richness must be a finite non-negative number, got ${r}`);
    graph.addNode(headKey(layer, h), { layer, head: h, richness: r, label: `L${layer} H${h}` });
  }
  for (let i = 0; i < H; i++) {
    for (let j = i + 1; j < H; j++) {
      const w = correlation[i * H + j];
      if (!Number.isFinite(w) || w < 0) throw new RangeError(`buildHeadGraph: layer ${layer} correlation[${i}][${j}] must be a finite non-negative number, got ${w}`);
      if (w > threshold) graph.addEdge(headKey(layer, i), headKey(layer, j), { weight: w });
    }
  }
  return graph;
}
