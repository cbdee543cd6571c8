// The per-batch heavy math of headStatistics.ts on the tfjs backend: centre each head's output over the real tokens
// and form the small Gram matrices and the cross terms S_ij = ||Ō_iᵀŌ_j||_F² with batched matMuls. Synchronous:
// call inside tf.tidy, read the results to host afterwards and feed them to HeadStatistics.addBatchGrams.
//
// The per-head Gram matrices (for the eigenvalues) live in the smaller of two spaces, chosen per batch from the
// padded length T:
//  - T ≤ d ('token'):   K_h = Ō_hŌ_hᵀ [B, H, T, T]; the eigenvalue step then works on T_e×T_e matrices.
//  - T > d ('feature'): Ō_hᵀŌ_h [B, H, d, d].
// The cross terms come from whichever is cheaper:
//  - via the token Grams: S_ij = <K_i, K_j>_F, since ||Ō_iᵀŌ_j||_F² = tr(Ō_iᵀŌ_jŌ_jᵀŌ_i) = tr(K_i K_j): one matMul
//    of [B, H, T²] by its transpose, ≈ B·(H·T²·d + H²·T²) multiply-adds;
//  - via the feature Gram: G = XᵀX for X = the concatenated centred outputs [B, T, H·d] (one matMul per batch),
//    S_ij = sum of squares of block (i, j) of G, ≈ B·T·H²·d² multiply-adds.
// The token route is taken when T·(d + H) ≤ H·d² (always when T ≤ d; up to T ≈ 646 for BERT-base) and its
// [B, H, T, T] tensor stays under TOKEN_GRAM_MAX_VALUES.
import * as tf from '@tensorflow/tfjs-core';
import type { BatchGrams } from './headStatistics.ts';

export interface BatchGramsTensors {
  space: 'feature' | 'token';
  n: number;
  /** [B, H, n, n] */
  grams: tf.Tensor4D;
  /** [B, H, H] */
  cross: tf.Tensor3D;
  /** How the cross terms were formed (informational). */
  crossSpace: 'feature' | 'token';
}

/** Largest [B, H, T, T] token-Gram tensor (in values) formed only for the cross terms: 2²⁶ (256 MB of float32). */
export const TOKEN_GRAM_MAX_VALUES = 2 ** 26;

/** Whether the cross terms of a [B, H, T, d] batch are cheaper through the token Grams (see the file comment). */
export function crossViaTokens(B: number, H: number, T: number, d: number): boolean {
  return T <= d || (T * (d + H) <= H * d * d && B * H * T * T <= TOKEN_GRAM_MAX_VALUES);
}

/**
 * @param headOutputs per layer [B, H, T, d]
 * @param attentionMask [B, T], 1 for real tokens, 0 for padding
 */
export function batchGramsTf(headOutputs: readonly tf.Tensor4D[], attentionMask: tf.Tensor2D): BatchGramsTensors[] {
  const [B, T] = attentionMask.shape;
  const m = tf.reshape(tf.cast(attentionMask, 'float32'), [B, 1, T, 1]); // [B, 1, T, 1]
  const len = tf.maximum(tf.sum(m, 2, true), 1); // [B, 1, 1, 1]
  return headOutputs.map((out, l) => {
    const [b, H, t, d] = out.shape;
    if (b !== B || t !== T) throw new RangeError(`batchGramsTf: layer ${l} head output is [${out.shape}], expected [${B}, H, ${T}, d]`);
    const mean = tf.div(tf.sum(tf.mul(out, m), 2, true), len); // [B, H, 1, d]
    const x = tf.mul(tf.sub(out, mean), m) as tf.Tensor4D; // [B, H, T, d], padding rows 0
    const space = T <= d ? 'token' : 'feature';
    const crossSpace = crossViaTokens(B, H, T, d) ? 'token' : 'feature';
    const k = space === 'token' || crossSpace === 'token' ? (tf.matMul(x, x, false, true) as tf.Tensor4D) : undefined; // [B, H, T, T]
    const grams = space === 'token' ? k! : (tf.matMul(x, x, true, false) as tf.Tensor4D); // [B, H, n, n]
    let cross: tf.Tensor3D;
    if (crossSpace === 'token') {
      const flat = tf.reshape(k!, [B, H, T * T]); // [B, H, T²]
      cross = tf.matMul(flat, flat, false, true) as tf.Tensor3D; // [B, H, H]
    } else {
      const xc = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, H * d]); // [B, T, H·d]
      const g = tf.matMul(xc, xc, true, false); // [B, H·d, H·d]
      cross = tf.sum(tf.square(tf.reshape(g, [B, H, d, H, d])), [2, 4]) as tf.Tensor3D; // [B, H, H]
    }
    return { space, n: space === 'token' ? T : d, grams, cross, crossSpace };
  });
}

/** Reads the tensors of `batchGramsTf` to host and disposes them. Call outside tf.tidy. */
export async function readBatchGrams(layers: readonly Pick<BatchGramsTensors, 'space' | 'n' | 'grams' | 'cross'>[]): Promise<BatchGrams[]> {
  try {
    const out: BatchGrams[] = [];
    for (const l of layers) {
      const [grams, cross] = await Promise.all([l.grams.data(), l.cross.data()]);
      out.push({ space: l.space, n: l.n, grams, cross });
    }
    return out;
  } finally {
    for (const l of layers) { l.grams.dispose(); l.cross.dispose(); }
  }
}
