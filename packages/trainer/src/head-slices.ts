// Which parameter entries an attention head owns (the mapping BertAttention.prune_heads uses), in the model's
// internal layout, where Linear weights are [in, out]:
//   head h of layer l owns COLUMNS h·d … (h+1)·d of attention.self.{query,key,value}.weight  [C, C]
//                          ENTRIES h·d … (h+1)·d of attention.self.{query,key,value}.bias    [C]
//   and (optionally) ROWS h·d … (h+1)·d of attention.output.dense.weight                     [C, C]
// (d = headDim, C = hiddenSize). In Hugging Face layout ([out, in]) the first two are rows and the last columns.
// Everything that trains, masks or exports heads goes through this module.
import type { ModelConfig } from '@hifi/engine';
import { TrainingConfigError } from './errors.ts';

/** A head as [layer, head], both 0-based. */
export type HeadRef = readonly [layer: number, head: number];

/** The projections a head owns: query/key/value (its inputs) and output (its rows of the output projection). */
export type HeadProjection = 'query' | 'key' | 'value' | 'output';
export const QKV: readonly HeadProjection[] = ['query', 'key', 'value'];

/** One contiguous block of a parameter owned by one head. */
export interface HeadSlice {
  layer: number;
  head: number;
  projection: HeadProjection;
  kind: 'weight' | 'bias';
  /** Checkpoint key of the full parameter. */
  key: string;
  /** Axis of the internal-layout tensor along which the block runs. */
  axis: 0 | 1;
  start: number;
  size: number;
}

export function layerPrefix(config: ModelConfig, layer: number): string {
  return `${config.modelType}.encoder.layer.${layer}`;
}

/** Checkpoint key of a projection's weight or bias in a layer. */
export function projectionKey(config: ModelConfig, layer: number, projection: HeadProjection, kind: 'weight' | 'bias'): string {
  const l = layerPrefix(config, layer);
  return projection === 'output' ? `${l}.attention.output.dense.${kind}` : `${l}.attention.self.${projection}.${kind}`;
}

/** Checks bounds and duplicates; returns the heads sorted by (layer, head). */
export function normalizeHeads(config: ModelConfig, heads: readonly HeadRef[], field = 'heads'): HeadRef[] {
  const seen = new Set<string>();
  const out: HeadRef[] = [];
  for (const [i, h] of heads.entries()) {
    if (!Array.isArray(h) || h.length !== 2) throw new TrainingConfigError(`${field}[${i}]`, `expected [layer, head], got ${JSON.stringify(h)}`);
    const [layer, head] = h;
    if (!Number.isInteger(layer) || layer < 0 || layer >= config.numLayers) throw new TrainingConfigError(`${field}[${i}]`, `layer ${layer} is outside 0..${config.numLayers - 1}`);
    if (!Number.isInteger(head) || head < 0 || head >= config.numHeads) throw new TrainingConfigError(`${field}[${i}]`, `head ${head} is outside 0..${config.numHeads - 1}`);
    const id = `${layer}:${head}`;
    if (seen.has(id)) throw new TrainingConfigError(`${field}[${i}]`, `head [${layer}, ${head}] is listed twice`);
    seen.add(id);
    out.push([layer, head]);
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** The blocks each head owns, in (layer, head, projection) order. */
export function headSlices(config: ModelConfig, heads: readonly HeadRef[], opts: { trainOutputProjection?: boolean } = {}): HeadSlice[] {
  const d = config.headDim;
  const out: HeadSlice[] = [];
  for (const [layer, head] of normalizeHeads(config, heads)) {
    const start = head * d;
    for (const projection of QKV) {
      out.push({ layer, head, projection, kind: 'weight', key: projectionKey(config, layer, projection, 'weight'), axis: 1, start, size: d });
      out.push({ layer, head, projection, kind: 'bias', key: projectionKey(config, layer, projection, 'bias'), axis: 0, start, size: d });
    }
    if (opts.trainOutputProjection) {
      out.push({ layer, head, projection: 'output', kind: 'weight', key: projectionKey(config, layer, 'output', 'weight'), axis: 0, start, size: d });
    }
  }
  return out;
}

/** Number of parameters the heads own (weights and biases). */
export function headParameterCount(config: ModelConfig, heads: readonly HeadRef[], opts: { trainOutputProjection?: boolean } = {}): number {
  const C = config.hiddenSize;
  return headSlices(config, heads, opts).reduce((n, s) => n + (s.kind === 'weight' ? s.size * C : s.size), 0);
}

/** The [numLayers][numHeads] 0/1 mask of a head set. */
export function headMaskFromHeads(config: ModelConfig, heads: readonly HeadRef[]): number[][] {
  const mask = Array.from({ length: config.numLayers }, () => new Array<number>(config.numHeads).fill(0));
  for (const [l, h] of normalizeHeads(config, heads)) mask[l][h] = 1;
  return mask;
}

/** The heads of a [numLayers][numHeads] mask whose entry is non-zero. */
export function headsFromMask(mask: readonly (readonly number[])[]): HeadRef[] {
  const out: HeadRef[] = [];
  mask.forEach((row, l) => row.forEach((v, h) => { if (v) out.push([l, h]); }));
  return out;
}

/** Key scheme of exported head slices (adapter heads.safetensors), Hugging Face layout. See README. */
export function adapterSliceKey(slice: Pick<HeadSlice, 'layer' | 'head' | 'projection' | 'kind'>): string {
  return `hifi.layer.${slice.layer}.head.${slice.head}.${slice.projection}.${slice.kind}`;
}

const ADAPTER_SLICE_KEY = /^hifi\.layer\.(\d+)\.head\.(\d+)\.(query|key|value|output)\.(weight|bias)$/;

/** Parses an adapter slice key; undefined for other keys (whole tensors are stored under their checkpoint key). */
export function parseAdapterSliceKey(key: string): { layer: number; head: number; projection: HeadProjection; kind: 'weight' | 'bias' } | undefined {
  const m = ADAPTER_SLICE_KEY.exec(key);
  if (!m) return undefined;
  return { layer: Number(m[1]), head: Number(m[2]), projection: m[3] as HeadProjection, kind: m[4] as 'weight' | 'bias' };
}
