// Choosing which heads to fine-tune from per-head scores, under a budget.
//
// Budgets:
//   {perLayer: k}             the k best heads of every layer (the default, k = 3)
//   {total: n}                the n best heads of the whole model
//   {fraction: f}             round(f · L · H) best heads of the whole model
//   {maxTrainableParams: p}   as many of the best heads as fit in p parameters, each head costing
//                             3·(hidden·d + d) (its Q, K, V output rows and biases) plus d·hidden (its columns of the
//                             attention output projection) when trainOutputProjection is on
// Global budgets rank heads by their score normalised within the layer (score / sum of the layer's scores). PageRank
// scores already sum to 1 in each layer, so for them this is the identity and the comparison across layers is fair.
// Ties are broken deterministically: higher score first, then lower layer, then lower head.
// `require`d heads are always selected and count against the budget (a warning is recorded when they exceed it);
// `exclude`d heads are never selected; a head in both lists is an error.
import { checkHeadRef, compareHeadRefs, type HeadRef } from './headRef.ts';

export type SelectionBudget =
  | { perLayer: number }
  | { total: number }
  | { fraction: number }
  | { maxTrainableParams: number; hiddenSize: number; headDim: number; trainOutputProjection?: boolean };

export const DEFAULT_BUDGET: SelectionBudget = { perLayer: 3 };

export interface SelectHeadsInput {
  /** scores[layer][head], finite and ≥ 0; higher means more important. */
  scores: readonly ArrayLike<number>[];
  budget?: SelectionBudget;
  require?: readonly HeadRef[];
  exclude?: readonly HeadRef[];
}

export interface HeadSelection {
  /** Selected heads ordered by layer, then head. */
  selected: HeadRef[];
  /** mask[layer][head] = 1 if selected. */
  mask: number[][];
  budget: SelectionBudget;
  /** Heads the budget asked for (after resolving fraction / params; per layer × layers for perLayer). */
  targetCount: number;
  /** Trainable parameters of the selected heads, when the budget gives the sizes to count them. */
  trainableParams?: number;
  warnings: string[];
}

export class HeadSelectionError extends Error {
  readonly code = 'INVALID_HEAD_SELECTION';
  constructor(message: string) {
    super(message);
    this.name = 'HeadSelectionError';
  }
}

/** Trainable parameters of one head: 3·(hidden·d + d), plus d·hidden with the output projection. */
export function headTrainableParams(cost: { hiddenSize: number; headDim: number; trainOutputProjection?: boolean }): number {
  const { hiddenSize, headDim } = cost;
  return 3 * (hiddenSize * headDim + headDim) + (cost.trainOutputProjection ? headDim * hiddenSize : 0);
}

/** Scores normalised within each layer to sum to 1 (a layer of all zeros stays all zeros). */
export function normaliseWithinLayer(scores: readonly ArrayLike<number>[]): Float64Array[] {
  return scores.map((row) => {
    const out = Float64Array.from(row);
    const sum = out.reduce((a, b) => a + b, 0);
    return sum > 0 ? out.map((v) => v / sum) : out;
  });
}

export function selectHeads(input: SelectHeadsInput): HeadSelection {
  const { scores } = input;
  const budget = input.budget ?? DEFAULT_BUDGET;
  const L = scores.length;
  if (L === 0) throw new HeadSelectionError('selectHeads: scores has no layers');
  const H = scores[0].length;
  scores.forEach((row, l) => {
    if (row.length !== H) throw new HeadSelectionError(`selectHeads: scores[${l}] has ${row.length} heads, expected ${H}`);
    for (let h = 0; h < H; h++) {
      if (!Number.isFinite(row[h]) || row[h] < 0) throw new HeadSelectionError(`selectHeads: scores[${l}][${h}] must be a finite non-negative number, got ${row[h]}`);
    }
  });
  const required = headSet(input.require ?? [], L, H, 'require');
  const excluded = headSet(input.exclude ?? [], L, H, 'exclude');
  for (const k of required) if (excluded.has(k)) throw new HeadSelectionError(`selectHeads: head [${decode(k, H)}] is both required and excluded`);

  const chosen = new Set<number>(required);
  const warnings: string[] = [];
  let targetCount: number;
  if ('perLayer' in budget) {
    const k = budget.perLayer;
    if (!Number.isInteger(k) || k < 0 || k > H) throw new HeadSelectionError(`selectHeads: budget.perLayer must be an integer in [0, ${H}], got ${k}`);
    targetCount = k * L;
    for (let l = 0; l < L; l++) {
      const inLayer = (h: number) => l * H + h;
      let count = 0;
      for (let h = 0; h < H; h++) if (required.has(inLayer(h))) count++;
      if (count > k) warnings.push(`layer ${l}: ${count} required heads exceed perLayer ${k}`);
      const order = Array.from({ length: H }, (_, h) => h).sort((a, b) => scores[l][b] - scores[l][a] || a - b);
      for (const h of order) {
        if (count >= k) break;
        if (chosen.has(inLayer(h)) || excluded.has(inLayer(h))) continue;
        chosen.add(inLayer(h));
        count++;
      }
      if (count < k) warnings.push(`layer ${l}: only ${count} heads available for perLayer ${k} after exclusions`);
    }
  } else {
    targetCount = globalTarget(budget, L, H);
    if (required.size > targetCount) warnings.push(`${required.size} required heads exceed the budget of ${targetCount}`);
    const norm = normaliseWithinLayer(scores);
    const order = Array.from({ length: L * H }, (_, k) => k).sort((a, b) => {
      const sa = norm[Math.floor(a / H)][a % H];
      const sb = norm[Math.floor(b / H)][b % H];
      return sb - sa || a - b; // a − b orders by layer, then head
    });
    for (const k of order) {
      if (chosen.size >= targetCount) break;
      if (!excluded.has(k)) chosen.add(k);
    }
    if (chosen.size < targetCount) warnings.push(`only ${chosen.size} heads available for a budget of ${targetCount} after exclusions`);
  }

  const selected = [...chosen].map((k) => decode(k, H)).sort(compareHeadRefs);
  const mask = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  for (const [l, h] of selected) mask[l][h] = 1;
  const result: HeadSelection = { selected, mask, budget, targetCount, warnings };
  if ('maxTrainableParams' in budget) result.trainableParams = selected.length * headTrainableParams(budget);
  return result;
}

function globalTarget(budget: SelectionBudget, L: number, H: number): number {
  const all = L * H;
  if ('total' in budget) {
    if (!Number.isInteger(budget.total) || budget.total < 0 || budget.total > all) throw new HeadSelectionError(`selectHeads: budget.total must be an integer in [0, ${all}], got ${budget.total}`);
    return budget.total;
  }
  if ('fraction' in budget) {
    if (!(budget.fraction >= 0 && budget.fraction <= 1)) throw new HeadSelectionError(`selectHeads: budget.fraction must be in [0, 1], got ${budget.fraction}`);
    return Math.round(budget.fraction * all);
  }
  if ('maxTrainableParams' in budget) {
    const { maxTrainableParams: p, hiddenSize, headDim } = budget;
    if (!(p >= 0) || !Number.isFinite(p)) throw new HeadSelectionError(`selectHeads: budget.maxTrainableParams must be a finite number ≥ 0, got ${p}`);
    if (!Number.isInteger(hiddenSize) || hiddenSize < 1) throw new HeadSelectionError(`selectHeads: budget.hiddenSize must be a positive integer, got ${hiddenSize}`);
    if (!Number.isInteger(headDim) || headDim < 1) throw new HeadSelectionError(`selectHeads: budget.headDim must be a positive integer, got ${headDim}`);
    return Math.min(all, Math.floor(p / headTrainableParams(budget)));
  }
  throw new HeadSelectionError(`selectHeads: unknown budget ${JSON.stringify(budget)} (expected perLayer, total, fraction or maxTrainableParams)`);
}

function headSet(refs: readonly HeadRef[], L: number, H: number, name: string): Set<number> {
  const set = new Set<number>();
  if (!Array.isArray(refs)) throw new HeadSelectionError(`selectHeads: ${name} must be an array of [layer, head] pairs`);
  refs.forEach((ref, i) => {
    try {
      const [l, h] = checkHeadRef(ref, L, H, `selectHeads: ${name}[${i}]`);
      set.add(l * H + h);
    } catch (err) {
      throw new HeadSelectionError((err as Error).message);
    }
  });
  return set;
}

function decode(k: number, H: number): HeadRef {
  return [Math.floor(k / H), k % H];
}

/** Deterministic pseudo-random scores in [0, 1) per head (mulberry32 seeded with `seed`), for the `random` strategy. */
export function randomScores(numLayers: number, numHeads: number, seed: number): Float64Array[] {
  if (!Number.isInteger(seed)) throw new HeadSelectionError(`randomScores: seed must be an integer, got ${seed}`);
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: numLayers }, () => Float64Array.from({ length: numHeads }, next));
}
