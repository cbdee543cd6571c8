// The host (float64) Gram step of the statistics for one example and one layer, done once per example with the
// least arithmetic: from the head outputs of a batch, centre the example's real tokens and form
//  - one Gram matrix per head for the eigenvalues, in the smaller space: token K_h = Ō_hŌ_hᵀ (T_e×T_e) when T_e ≤ d,
//    feature F_h = Ō_hᵀŌ_h (d×d) otherwise (both have the same non-zero eigenvalues);
//  - the cross terms S_ij = ||Ō_iᵀŌ_j||_F² from the cheaper of two identities:
//      token route:   S_ij = <K_i, K_j>_F                ≈ H·T_e²·d/2 + H²·T_e²/4 multiply-adds
//      feature route: S_ij = ||Ō_iᵀŌ_j||_F² block by block ≈ H²·T_e·d²/2 multiply-adds
//    (the token route wins while T_e·(2d + H) ≤ 2H·d², i.e. up to T_e ≈ 102 for 8 heads of 16, ≈ 702 for BERT-base).
// The diagonal S_ii = ||K_i||_F² = ||F_i||_F² comes free with either. This is the same quantity as the diagonal and
// off-diagonal d×d blocks of the (H·d)×(H·d) Gram of the concatenated outputs that the reference path forms, without
// forming it. Scratch buffers grow with the longest example seen, never with the number of examples.
import type { LayerExampleStats } from './headStatistics.ts';

export class ExampleGrams {
  readonly numHeads: number;
  readonly headDim: number;
  /** [H, T_e, d] centred outputs. */
  private x = new Float64Array(0);
  /** [H, n, n] per-head Grams for the eigenvalues (n = T_e or d). */
  private grams = new Float64Array(0);
  /** [H, T_e, T_e] token Grams when they are needed for the cross terms but not for the eigenvalues. */
  private tokenGrams = new Float64Array(0);
  /** [H, T_e(T_e+1)/2] packed upper triangles of the token Grams. */
  private packed = new Float64Array(0);
  /** [H, H] cross terms. */
  private readonly cross: Float64Array;
  /** [d, d] one off-diagonal block Ō_iᵀŌ_j (feature route). */
  private readonly block: Float64Array;
  private readonly colMean: Float64Array;

  constructor(numHeads: number, headDim: number) {
    this.numHeads = numHeads;
    this.headDim = headDim;
    this.cross = new Float64Array(numHeads * numHeads);
    this.block = new Float64Array(headDim * headDim);
    this.colMean = new Float64Array(headDim);
  }

  /** Bytes of scratch space held. */
  get scratchBytes(): number {
    return this.x.byteLength + this.grams.byteLength + this.tokenGrams.byteLength + this.packed.byteLength + this.cross.byteLength + this.block.byteLength + this.colMean.byteLength;
  }

  /** Whether the cross terms of an example with `tokens` real tokens are cheaper through the token Grams. */
  static crossViaTokens(tokens: number, numHeads: number, headDim: number): boolean {
    return tokens * (2 * headDim + numHeads) <= 2 * numHeads * headDim * headDim;
  }

  /**
   * The statistics of example `b` of one layer's [B, H, T, d] head outputs (row-major), over the token positions
   * `idx` (the example's real tokens, at least 2). The returned arrays are scratch space, valid until the next call.
   */
  compute(out: ArrayLike<number>, b: number, seqLen: number, idx: ArrayLike<number>): LayerExampleStats {
    const H = this.numHeads;
    const d = this.headDim;
    const T = seqLen;
    const Te = idx.length;
    const x = this.scratch('x', H * Te * d);
    const mean = this.colMean;

    // Centre each head's real-token rows: x[h, t, :] = out[b, h, idx[t], :] − mean over t.
    for (let h = 0; h < H; h++) {
      const src = (b * H + h) * T;
      const dst = h * Te * d;
      mean.fill(0);
      for (let t = 0; t < Te; t++) {
        const s = (src + idx[t]) * d;
        const r = dst + t * d;
        for (let k = 0; k < d; k++) {
          const v = out[s + k];
          x[r + k] = v;
          mean[k] += v;
        }
      }
      for (let k = 0; k < d; k++) mean[k] /= Te;
      for (let t = 0; t < Te; t++) {
        const r = dst + t * d;
        for (let k = 0; k < d; k++) x[r + k] -= mean[k];
      }
    }

    const tokenSpace = Te <= d;
    const viaTokens = tokenSpace || ExampleGrams.crossViaTokens(Te, H, d);
    const n = tokenSpace ? Te : d;
    const grams = this.scratch('grams', H * n * n);
    let tokenGrams: Float64Array | undefined;
    if (viaTokens) {
      tokenGrams = tokenSpace ? grams : this.scratch('tokenGrams', H * Te * Te);
      for (let h = 0; h < H; h++) tokenGram(x, h * Te * d, Te, d, tokenGrams, h * Te * Te);
    }
    if (!tokenSpace) for (let h = 0; h < H; h++) featureGram(x, h * Te * d, Te, d, grams, h * d * d);

    const cross = this.cross;
    if (tokenGrams) {
      // S_ij = Σ_pq K_i[p,q]·K_j[p,q]: pack each K's upper triangle, off-diagonal entries times √2, so that S_ij is
      // one flat dot product of length T_e(T_e+1)/2.
      const m = Te * Te;
      const P = (Te * (Te + 1)) / 2;
      const u = this.scratch('packed', H * P);
      for (let h = 0; h < H; h++) {
        let o = h * P;
        for (let p = 0; p < Te; p++) {
          const r = h * m + p * Te;
          u[o++] = tokenGrams[r + p];
          for (let q = p + 1; q < Te; q++) u[o++] = Math.SQRT2 * tokenGrams[r + q];
        }
      }
      for (let i = 0; i < H; i++) {
        const ui = i * P;
        for (let j = i; j < H; j++) {
          const uj = j * P;
          const s = dot(u, ui, uj, P);
          cross[i * H + j] = cross[j * H + i] = s;
        }
      }
    } else {
      // Diagonal from the feature Grams, off-diagonal blocks Ō_iᵀŌ_j one at a time.
      const m = d * d;
      for (let i = 0; i < H; i++) {
        let s = 0;
        for (let p = 0; p < d; p++) {
          const r = i * m + p * d;
          s += grams[r + p] * grams[r + p];
          for (let q = p + 1; q < d; q++) s += 2 * grams[r + q] * grams[r + q];
        }
        cross[i * H + i] = s;
      }
      const block = this.block;
      for (let i = 0; i < H; i++) {
        for (let j = i + 1; j < H; j++) {
          block.fill(0);
          const xi = i * Te * d;
          const xj = j * Te * d;
          for (let t = 0; t < Te; t++) {
            const ri = xi + t * d;
            const rj = xj + t * d;
            for (let p = 0; p < d; p++) {
              const v = x[ri + p];
              const r = p * d;
              for (let q = 0; q < d; q++) block[r + q] += v * x[rj + q];
            }
          }
          let s = 0;
          for (let k = 0; k < m; k++) s += block[k] * block[k];
          cross[i * H + j] = cross[j * H + i] = s;
        }
      }
    }
    return { n, grams, cross };
  }

  /** The scratch array `field`, replaced by a larger one (with room to spare) when it holds fewer than `size` values. */
  private scratch(field: 'x' | 'grams' | 'tokenGrams' | 'packed', size: number): Float64Array {
    if (this[field].length < size) this[field] = new Float64Array(Math.max(size, Math.ceil(this[field].length * 1.5)));
    return this[field];
  }
}

/** out[o …] = X Xᵀ for X the [rows, cols] block at x[xo …]; full symmetric matrix. */
function tokenGram(x: Float64Array, xo: number, rows: number, cols: number, out: Float64Array, o: number): void {
  for (let p = 0; p < rows; p++) {
    const rp = xo + p * cols;
    for (let q = p; q < rows; q++) {
      const rq = xo + q * cols;
      const s = dot(x, rp, rq, cols);
      out[o + p * rows + q] = s;
      out[o + q * rows + p] = s;
    }
  }
}

/** out[o …] = Xᵀ X for X the [rows, cols] block at x[xo …]; upper triangle only (the eigen solver reads no more). */
function featureGram(x: Float64Array, xo: number, rows: number, cols: number, out: Float64Array, o: number): void {
  for (let p = 0; p < cols; p++) for (let q = p; q < cols; q++) out[o + p * cols + q] = 0;
  for (let t = 0; t < rows; t++) {
    const r = xo + t * cols;
    for (let p = 0; p < cols; p++) {
      const v = x[r + p];
      if (v === 0) continue;
      const g = o + p * cols;
      for (let q = p; q < cols; q++) out[g + q] += v * x[r + q];
    }
  }
}

/**
 * Σ_k v[a + k]·v[b + k] for k < n, with four independent partial sums: a single running sum is bound by the latency
 * of floating-point addition, four keep the multiply-add units busy (about 3× faster in V8).
 */
function dot(v: Float64Array, a: number, b: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += v[a + k] * v[b + k];
    s1 += v[a + k + 1] * v[b + k + 1];
    s2 += v[a + k + 2] * v[b + k + 2];
    s3 += v[a + k + 3] * v[b + k + 3];
  }
  for (; k < n; k++) s0 += v[a + k] * v[b + k];
  return s0 + s1 + (s2 + s3);
}
