// GEXF export of the head graphs: one document holding every layer's graph side by side. Node keys carry the
// layer ("L3H7"), so layers stay disjoint components (there are no edges across layers). Nodes have the attributes
// layer, head, richness and, when given, score, rankInLayer and selected; they are laid out on a layers × heads grid
// and coloured by score. Edges carry the correlation as their GEXF weight. (To write a single layer, call
// graphology-gexf's `write` on that layer's graph.)
import { UndirectedGraph } from 'graphology';
import { write } from 'graphology-gexf';
import type { HeadEdgeAttributes, HeadGraph, HeadNodeAttributes } from './headGraph.ts';
import { ranksInLayer } from './headReport.ts';
import { viridis } from './viridis.ts';

export interface HeadGexfExtras {
  /** scores[layer][head], used for the `score` attribute, the rank and the colour. */
  scores?: readonly ArrayLike<number>[];
  /** mask[layer][head], 1 = selected. */
  mask?: readonly ArrayLike<number>[];
  pretty?: boolean;
}

interface GexfNodeAttributes extends HeadNodeAttributes {
  score?: number;
  rankInLayer?: number;
  selected?: boolean;
  x: number;
  y: number;
  color?: string;
}

export function headGraphsToGexf(graphs: readonly HeadGraph[], extras: HeadGexfExtras = {}): string {
  const merged = new UndirectedGraph<GexfNodeAttributes, HeadEdgeAttributes>({ allowSelfLoops: false });
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of extras.scores ?? []) for (let i = 0; i < row.length; i++) { lo = Math.min(lo, row[i]); hi = Math.max(hi, row[i]); }
  for (const graph of graphs) {
    graph.forEachNode((key, a) => {
      const attrs: GexfNodeAttributes = { ...a, x: a.head * 10, y: -a.layer * 10 };
      const row = extras.scores?.[a.layer];
      if (row) {
        attrs.score = row[a.head];
        attrs.rankInLayer = ranksInLayer(row)[a.head];
        attrs.color = viridis(hi > lo ? (row[a.head] - lo) / (hi - lo) : 0.5);
      }
      if (extras.mask) attrs.selected = extras.mask[a.layer]?.[a.head] === 1;
      merged.addNode(key, attrs);
    });
    graph.forEachEdge((_edge, attrs, source, target) => merged.addEdge(source, target, { ...attrs }));
  }
  return write(merged, {
    pretty: extras.pretty ?? true,
    formatNode: (_key, a) => {
      const { x, y, color, label, ...attributes } = a;
      return { label, viz: { x, y, size: 1 + (a.selected ? 1 : 0), ...(color ? { color } : {}) }, attributes };
    },
    formatEdge: (_key, a) => ({ weight: a.weight, attributes: {} }),
  });
}
