// Streaming per-head statistics over a sample of examples: the information richness of each head (mean nuclear norm
// of its centred output) and the correlation between heads of the same layer (mean RV coefficient). Only running
// sums are kept: memory is O(L·H²) whatever the number of examples, plus scratch space that grows with the longest
// example (never with their number).
//
// Notation, for one example and one layer: O_h is the [T_e, d] output of head h over the example's T_e real tokens,
// Ō_h = O_h − 1·mean_t(O_h) is it centred over the tokens, and
//   richness_h = ||Ō_h||_*                          (sum of singular values, from the eigenvalues of a Gram matrix)
//   S_ij       = ||Ō_iᵀ Ō_j||_F² = tr(C_ij C_ji)·(T_e−1)²   (C_ij the centred cross-covariance, d×d)
//   RV_ij      = S_ij / sqrt(S_ii · S_jj)            (in [0, 1]; 1 on the diagonal)
// The (T_e−1) normalisation of the covariance cancels in RV, so it is never applied.
//
// Examples with fewer than 2 real tokens have Ō = 0: they carry no information about either quantity and are
// skipped (counted in `examplesSkipped`), so they do not drag the means towards 0. A head whose centred output is
// exactly 0 on an example with ≥ 2 tokens has RV 0 with every other head (and 1 with itself) on that example.
//
// Three ways in, one accumulator:
//  - addBatch: the fast host path (float64): per example, the least-work Grams of exampleGrams.ts and the
//    tridiagonal QL eigenvalue solver, run by the WebAssembly SIMD kernel (kernels/head-stats.as) where available,
//    else by the same algorithm in JavaScript.
//  - addBatchReference: the literal definition (float64): the full (H·d)×(H·d) Gram of the concatenated outputs and
//    the cyclic Jacobi eigenvalue method. Slow; the yardstick of the tests.
//  - addBatchGrams: Grams formed on the tfjs backend (headStatisticsTf.ts) and read to host.
import { nuclearNormFromGram, type JacobiOptions } from './symmetricEigen.ts';
import { TridiagonalEigenSolver } from './tridiagonalEigen.ts';
import { ExampleGrams } from './exampleGrams.ts';
import { EXAMPLE_QL_FAILED, EXAMPLE_SKIPPED, HeadStatsWasm } from './kernels/headStatsWasm.ts';

export interface HeadShape {
  numLayers: number;
  numHeads: number;
  headDim: number;
}

/** Which tokens of a padded batch are real: the attention mask of an EncodedBatch (1 real, 0 padding). */
export interface BatchMask {
  batchSize: number;
  seqLen: number;
  /** Row-major [batchSize, seqLen]. */
  attentionMask: ArrayLike<number>;
}

/**
 * One layer's statistics for a whole batch, as produced on the device (see headStatisticsTf.ts) and read to host.
 * `space: 'feature'`: grams[b, h] = Ō_hᵀŌ_h (n = d). `space: 'token'`: grams[b, h] = Ō_hŌ_hᵀ over the padded token axis
 * (n = seqLen; rows/columns of padding are 0 and are dropped per example). Both have the same non-zero eigenvalues.
 */
export interface BatchGrams {
  space: 'feature' | 'token';
  n: number;
  /** Row-major [B, H, n, n]. */
  grams: ArrayLike<number>;
  /** Row-major [B, H, H]: S_ij = ||Ō_iᵀŌ_j||_F². */
  cross: ArrayLike<number>;
}

/** One example's statistics for one layer. */
export interface LayerExampleStats {
  /** Side of each head's Gram matrix. */
  n: number;
  /** [H, n, n] Gram matrix per head (any space with the same non-zero eigenvalues as Ō_hᵀŌ_h). */
  grams: ArrayLike<number>;
  /** [H, H] S_ij = ||Ō_iᵀŌ_j||_F². */
  cross: ArrayLike<number>;
}

export interface HeadStatisticsSummary {
  examplesSeen: number;
  examplesUsed: number;
  examplesSkipped: number;
  /** Real tokens of the used examples. */
  tokensUsed: number;
}

/** Eigenvalue method for the richness: 'ql' (tridiagonal QL, the default) or 'jacobi' (cyclic Jacobi, the reference). */
export type EigenSolverName = 'ql' | 'jacobi';

/** Who runs the fast host path: the WebAssembly kernel or the JavaScript version of the same algorithm. */
export type StatisticsKernel = 'wasm' | 'js';

export interface HeadStatisticsOptions {
  eigenSolver?: EigenSolverName;
  jacobi?: JacobiOptions;
  /**
   * 'wasm' (default when WebAssembly SIMD is available) or 'js'. The wasm kernel uses the QL solver, so
   * eigenSolver 'jacobi' implies 'js'.
   */
  kernel?: StatisticsKernel;
}

/** What a HeadStatistics holds in memory, in bytes. */
export interface HeadStatisticsMemory {
  /** The running sums: L·H richness sums and L·H² RV sums (float64), plus L counts. */
  accumulatorBytes: number;
  /** Scratch space of the host path: grows with the longest example and the head size, not with the count. */
  scratchBytes: number;
}

export class HeadStatistics implements HeadShape {
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly eigenSolver: EigenSolverName;
  private readonly jacobi: JacobiOptions;
  private readonly solver = new TridiagonalEigenSolver();
  private exampleGrams: ExampleGrams | undefined;
  private readonly wasm: HeadStatsWasm | undefined;
  /** The kernel addBatch uses. */
  readonly kernel: StatisticsKernel;
  private readonly richnessSum: Float64Array[];
  private readonly rvSum: Float64Array[];
  private readonly layerCount: Float64Array;
  private seen = 0;
  private skipped = 0;
  private tokens = 0;

  constructor(shape: HeadShape, opts: HeadStatisticsOptions = {}) {
    for (const k of ['numLayers', 'numHeads', 'headDim'] as const) {
      const v = shape[k];
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`HeadStatistics: ${k} must be a positive integer, got ${v}`);
    }
    this.numLayers = shape.numLayers;
    this.numHeads = shape.numHeads;
    this.headDim = shape.headDim;
    this.jacobi = opts.jacobi ?? {};
    this.eigenSolver = opts.eigenSolver ?? 'ql';
    if (this.eigenSolver !== 'ql' && this.eigenSolver !== 'jacobi') throw new RangeError(`HeadStatistics: eigenSolver must be 'ql' or 'jacobi', got ${JSON.stringify(this.eigenSolver)}`);
    const kernel = opts.kernel ?? 'wasm';
    if (kernel !== 'wasm' && kernel !== 'js') throw new RangeError(`HeadStatistics: kernel must be 'wasm' or 'js', got ${JSON.stringify(kernel)}`);
    this.wasm = kernel === 'wasm' && this.eigenSolver === 'ql' ? HeadStatsWasm.create() : undefined;
    this.kernel = this.wasm ? 'wasm' : 'js';
    const H = this.numHeads;
    this.richnessSum = Array.from({ length: this.numLayers }, () => new Float64Array(H));
    this.rvSum = Array.from({ length: this.numLayers }, () => new Float64Array(H * H));
    this.layerCount = new Float64Array(this.numLayers);
  }

  /**
   * Fast host path (float64): `headOutputs[l]` is layer l's [B, H, T, d] head output, row-major. Per example, the real
   * tokens are centred and the per-head Grams and cross terms are formed in whichever space costs least
   * (exampleGrams.ts); the eigenvalues come from the configured solver (tridiagonal QL by default).
   */
  addBatch(headOutputs: readonly ArrayLike<number>[], mask: BatchMask): void {
    if (this.wasm) this.addBatchWasm(this.wasm, headOutputs, mask);
    else this.addBatchJs(headOutputs, mask);
  }

  /**
   * Counts example b of a batch and returns its real token positions, or null when it is skipped (fewer than two real
   * tokens: its centred outputs are all zero). The one rule every accumulation path follows.
   */
  private admitExample(mask: BatchMask, b: number): number[] | null {
    const idx = realTokens(mask, b);
    this.seen++;
    if (idx.length < 2) { this.skipped++; return null; }
    this.tokens += idx.length;
    return idx;
  }

  private addBatchJs(headOutputs: readonly ArrayLike<number>[], mask: BatchMask): void {
    const { numLayers: L } = this;
    const { batchSize: B } = this.checkHeadOutputs('addBatch', headOutputs, mask);
    for (let b = 0; b < B; b++) {
      const idx = this.admitExample(mask, b);
      if (idx === null) continue;
      for (let l = 0; l < L; l++) this.addExampleJs(l, headOutputs[l], b, mask.seqLen, idx);
    }
  }

  private addExampleJs(layer: number, out: ArrayLike<number>, b: number, seqLen: number, idx: readonly number[]): void {
    this.exampleGrams ??= new ExampleGrams(this.numHeads, this.headDim);
    this.addLayerExample(layer, this.exampleGrams.compute(out, b, seqLen, idx));
  }

  /** The wasm kernel computes each example's nuclear norms and RV matrix; they are summed here in example order. */
  private addBatchWasm(wasm: HeadStatsWasm, headOutputs: readonly ArrayLike<number>[], mask: BatchMask): void {
    const { numLayers: L, numHeads: H, headDim: d } = this;
    const { batchSize: B, seqLen: T } = this.checkHeadOutputs('addBatch', headOutputs, mask);
    for (let l = 0; l < L; l++) {
      const r = wasm.layerStats(headOutputs[l], mask.attentionMask, B, T, H, d);
      const rich = this.richnessSum[l];
      const rv = this.rvSum[l];
      for (let b = 0; b < B; b++) {
        const status = r.status[b];
        if (l === 0) {
          this.seen++;
          if (status === EXAMPLE_SKIPPED) this.skipped++;
          else this.tokens += r.tokens[b];
        }
        if (status === EXAMPLE_SKIPPED) continue;
        if (status === EXAMPLE_QL_FAILED) {
          // Rare: redo this example on the JS path, whose solver falls back to Jacobi.
          this.addExampleJs(l, headOutputs[l], b, T, realTokens(mask, b));
          continue;
        }
        for (let h = 0; h < H; h++) rich[h] += r.richness[b * H + h];
        const o = b * H * H;
        for (let k = 0; k < H * H; k++) rv[k] += r.rv[o + k];
        this.layerCount[l]++;
      }
    }
  }

  /**
   * Reference path (float64), the literal definition: `headOutputs[l]` is layer l's [B, H, T, d] head output,
   * row-major. For each example the real tokens are centred and the (H·d)×(H·d) Gram matrix of the concatenated
   * centred outputs is formed; the Jacobi eigenvalues of its diagonal blocks give the richness and the squared
   * Frobenius norms of its blocks give S. Always uses the Jacobi method, whatever `eigenSolver` says.
   */
  addBatchReference(headOutputs: readonly ArrayLike<number>[], mask: BatchMask): void {
    const { numLayers: L, numHeads: H, headDim: d } = this;
    const { batchSize: B, seqLen: T } = this.checkHeadOutputs('addBatchReference', headOutputs, mask);
    const D = H * d;
    const x = new Float64Array(T * D);
    const gram = new Float64Array(D * D);
    const grams = new Float64Array(H * d * d);
    const cross = new Float64Array(H * H);
    for (let b = 0; b < B; b++) {
      const idx = this.admitExample(mask, b);
      if (idx === null) continue;
      const Te = idx.length;
      for (let l = 0; l < L; l++) {
        const out = headOutputs[l];
        // x: [Te, H·d] centred concatenated head outputs.
        for (let h = 0; h < H; h++) {
          for (let k = 0; k < d; k++) {
            let mean = 0;
            for (let t = 0; t < Te; t++) mean += out[((b * H + h) * T + idx[t]) * d + k];
            mean /= Te;
            for (let t = 0; t < Te; t++) x[t * D + h * d + k] = out[((b * H + h) * T + idx[t]) * d + k] - mean;
          }
        }
        // gram = xᵀx, upper triangle only.
        gram.fill(0);
        for (let t = 0; t < Te; t++) {
          const row = t * D;
          for (let i = 0; i < D; i++) {
            const xi = x[row + i];
            if (xi === 0) continue;
            const gi = i * D;
            for (let j = i; j < D; j++) gram[gi + j] += xi * x[row + j];
          }
        }
        for (let h = 0; h < H; h++) {
          for (let p = 0; p < d; p++) for (let q = p; q < d; q++) grams[(h * d + p) * d + q] = gram[(h * d + p) * D + h * d + q];
        }
        for (let i = 0; i < H; i++) {
          for (let j = i; j < H; j++) {
            let s = 0;
            for (let p = 0; p < d; p++) {
              for (let q = 0; q < d; q++) {
                const r = i * d + p;
                const c = j * d + q;
                const g = r <= c ? gram[r * D + c] : gram[c * D + r];
                s += g * g;
              }
            }
            cross[i * H + j] = cross[j * H + i] = s;
          }
        }
        this.accumulate(l, { n: d, grams, cross }, 'jacobi');
      }
    }
  }

  /**
   * Device path: per layer, the batch's Gram matrices and cross terms computed by `batchGramsTf` and read to host.
   * Token-space grams are cut down to each example's real tokens before the eigenvalues are taken.
   */
  addBatchGrams(layers: readonly BatchGrams[], mask: BatchMask): void {
    const { numLayers: L, numHeads: H, headDim: d } = this;
    const { batchSize: B, seqLen: T } = checkMask(mask);
    if (layers.length !== L) throw new RangeError(`HeadStatistics.addBatchGrams: got ${layers.length} layers, expected ${L}`);
    for (let l = 0; l < L; l++) {
      const g = layers[l];
      const n = g.space === 'feature' ? d : T;
      if (g.n !== n) throw new RangeError(`HeadStatistics.addBatchGrams: layer ${l} ${g.space}-space grams have n=${g.n}, expected ${n}`);
      if (g.grams.length !== B * H * n * n) throw new RangeError(`HeadStatistics.addBatchGrams: layer ${l} grams have ${g.grams.length} values, expected [${B}, ${H}, ${n}, ${n}]`);
      if (g.cross.length !== B * H * H) throw new RangeError(`HeadStatistics.addBatchGrams: layer ${l} cross has ${g.cross.length} values, expected [${B}, ${H}, ${H}]`);
    }
    const cross = new Float64Array(H * H);
    for (let b = 0; b < B; b++) {
      const idx = this.admitExample(mask, b);
      if (idx === null) continue;
      const Te = idx.length;
      for (let l = 0; l < L; l++) {
        const g = layers[l];
        for (let k = 0; k < H * H; k++) cross[k] = g.cross[b * H * H + k];
        if (g.space === 'feature') {
          const grams = new Float64Array(H * d * d);
          for (let k = 0; k < grams.length; k++) grams[k] = g.grams[b * H * d * d + k];
          this.addLayerExample(l, { n: d, grams, cross });
        } else {
          const grams = new Float64Array(H * Te * Te);
          for (let h = 0; h < H; h++) {
            const base = (b * H + h) * T * T;
            for (let p = 0; p < Te; p++) for (let q = 0; q < Te; q++) grams[(h * Te + p) * Te + q] = g.grams[base + idx[p] * T + idx[q]];
          }
          this.addLayerExample(l, { n: Te, grams, cross });
        }
      }
    }
  }

  /**
   * Adds one (non-degenerate) example's statistics for one layer, with the configured eigenvalue solver. Low level:
   * the addBatch methods call it; it does not count the example (see summary()).
   */
  addLayerExample(layer: number, stats: LayerExampleStats): void {
    this.accumulate(layer, stats, this.eigenSolver);
  }

  private accumulate(layer: number, stats: LayerExampleStats, solver: EigenSolverName): void {
    const H = this.numHeads;
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) throw new RangeError(`HeadStatistics: layer ${layer} out of range [0, ${this.numLayers})`);
    const { n, grams, cross } = stats;
    if (grams.length < H * n * n) throw new RangeError(`HeadStatistics: grams has ${grams.length} values, expected [${H}, ${n}, ${n}]`);
    if (cross.length < H * H) throw new RangeError(`HeadStatistics: cross has ${cross.length} values, expected [${H}, ${H}]`);
    const rich = this.richnessSum[layer];
    const rv = this.rvSum[layer];
    if (solver === 'ql') {
      for (let h = 0; h < H; h++) rich[h] += this.solver.nuclearNormFromGram(grams, n, h * n * n);
    } else {
      const block = new Float64Array(n * n);
      for (let h = 0; h < H; h++) {
        for (let k = 0; k < n * n; k++) block[k] = grams[h * n * n + k];
        rich[h] += nuclearNormFromGram(block, n, this.jacobi);
      }
    }
    for (let i = 0; i < H; i++) {
      rv[i * H + i] += 1;
      const sii = cross[i * H + i];
      for (let j = i + 1; j < H; j++) {
        const denom = Math.sqrt(sii * cross[j * H + j]);
        const r = denom > 0 ? Math.min(1, Math.max(0, cross[i * H + j] / denom)) : 0;
        rv[i * H + j] += r;
        rv[j * H + i] += r;
      }
    }
    this.layerCount[layer]++;
  }

  /** Mean richness per head of `layer` (zeros before any example). */
  richness(layer: number): Float64Array {
    const c = this.layerCount[layer];
    return this.richnessSum[layer].map((v) => (c > 0 ? v / c : 0));
  }

  /** Mean RV coefficient [H, H] of `layer` (identity before any example). */
  correlation(layer: number): Float64Array {
    const c = this.layerCount[layer];
    const H = this.numHeads;
    if (c === 0) return Float64Array.from({ length: H * H }, (_, k) => (k % (H + 1) === 0 ? 1 : 0));
    return this.rvSum[layer].map((v) => v / c);
  }

  summary(): HeadStatisticsSummary {
    return { examplesSeen: this.seen, examplesUsed: this.seen - this.skipped, examplesSkipped: this.skipped, tokensUsed: this.tokens };
  }

  /** Bytes held: the running sums (fixed by L and H) and the scratch space of the host path. */
  memory(): HeadStatisticsMemory {
    let accumulatorBytes = this.layerCount.byteLength;
    for (let l = 0; l < this.numLayers; l++) accumulatorBytes += this.richnessSum[l].byteLength + this.rvSum[l].byteLength;
    return { accumulatorBytes, scratchBytes: this.solver.scratchBytes + (this.exampleGrams?.scratchBytes ?? 0) + (this.wasm?.memoryBytes ?? 0) };
  }

  private checkHeadOutputs(method: string, headOutputs: readonly ArrayLike<number>[], mask: BatchMask): { batchSize: number; seqLen: number } {
    const { numLayers: L, numHeads: H, headDim: d } = this;
    const { batchSize: B, seqLen: T } = checkMask(mask);
    if (headOutputs.length !== L) throw new RangeError(`HeadStatistics.${method}: got head outputs for ${headOutputs.length} layers, expected ${L}`);
    for (let l = 0; l < L; l++) {
      const want = B * H * T * d;
      if (headOutputs[l].length !== want) {
        throw new RangeError(`HeadStatistics.${method}: layer ${l} head output has ${headOutputs[l].length} values, expected [B=${B}, H=${H}, T=${T}, d=${d}] = ${want}`);
      }
    }
    return { batchSize: B, seqLen: T };
  }
}

function checkMask(mask: BatchMask): { batchSize: number; seqLen: number } {
  const { batchSize, seqLen, attentionMask } = mask;
  if (!Number.isInteger(batchSize) || batchSize < 0) throw new RangeError(`HeadStatistics: batchSize must be a non-negative integer, got ${batchSize}`);
  if (!Number.isInteger(seqLen) || seqLen < 0) throw new RangeError(`HeadStatistics: seqLen must be a non-negative integer, got ${seqLen}`);
  if (attentionMask.length !== batchSize * seqLen) {
    throw new RangeError(`HeadStatistics: attentionMask has ${attentionMask.length} values, expected batchSize×seqLen = ${batchSize}×${seqLen}`);
  }
  return { batchSize, seqLen };
}

function realTokens(mask: BatchMask, b: number): number[] {
  const idx: number[] = [];
  for (let t = 0; t < mask.seqLen; t++) if (mask.attentionMask[b * mask.seqLen + t] !== 0) idx.push(t);
  return idx;
}

/** Builds an attention mask (row-major [lengths.length, seqLen]) from per-example lengths of right-padded rows. */
export function maskFromLengths(lengths: readonly number[], seqLen: number): BatchMask {
  const attentionMask = new Int32Array(lengths.length * seqLen);
  lengths.forEach((len, b) => {
    if (!Number.isInteger(len) || len < 0 || len > seqLen) throw new RangeError(`maskFromLengths: lengths[${b}]=${len} is not an integer in [0, ${seqLen}]`);
    attentionMask.fill(1, b * seqLen, b * seqLen + len);
  });
  return { batchSize: lengths.length, seqLen, attentionMask };
}
