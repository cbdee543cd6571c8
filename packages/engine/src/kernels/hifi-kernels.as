// AssemblyScript source of the engine's WebAssembly SIMD kernels (built by build-wasm.ts into hifi-kernels.wasm).
// The module imports the tfjs wasm backend's own memory, so every pointer below is a tensor's offset on that heap
// and the kernels read and write tensors in place. All data is float32 (int32 for ids), row-major.
//
// Attention works on one [N, rowStride] buffer holding Q, K and V side by side (N = B·T tokens; head h of Q is
// columns qOff + h·d … qOff + (h+1)·d), the output of one fused QKV projection, and writes the context in the merged
// [N, H·d] layout, so no transpose happens around it. Per (batch, head) it walks blocks of 4 query rows: scores for
// the block (4 × T, kept in L1), softmax, dropout and head mask, then the weighted sum of V. The backward pass
// recomputes the probabilities from the saved row max and 1/sum instead of keeping a [B, H, T, T] tensor.
//
// Dropout masks come from a counter-based hash of (seed, element index), so the backward pass regenerates the
// forward mask exactly and a step replays exactly from its seed.

// ---------------------------------------------------------------------------------------------------------------
// math helpers

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_LO: f32 = -87.33654;

/**
 * exp(x) for 4 lanes with x ≤ 0 (all the kernels need: softmax after subtracting the row max, GELU's exp(−x²/2)).
 * Cephes expf polynomial (~1 ulp) after x = n·ln2 + r; 2^n comes from the exponent bits of x·log2e + 1.5·2^23 + 127
 * (the "magic number" rounding, cheaper than nearest + trunc_sat). exp(x) = 0 below −87.3 (incl. −inf).
 * pmax (maxps) rather than max: wasm's NaN-propagating f32x4.max costs several instructions on x86.
 */
// @ts-ignore: decorator
@inline function expNeg(x: v128): v128 {
  const xc = f32x4.pmax(x, f32x4.splat(EXP_LO));
  const magic = f32x4.splat(12583039.0); // 1.5·2^23 + 127
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const out = f32x4.mul(y, i32x4.shl(t, 23)); // low mantissa bits of t hold n + 127
  return v128.andnot(out, f32x4.lt(x, f32x4.splat(EXP_LO)));
}

/** erf(x) for 4 lanes: rational approximation (Eigen's generic_fast_erf_float), |error| < 2e-7. */
// @ts-ignore: decorator
@inline function erfv(xin: v128): v128 {
  const x = f32x4.pmin(f32x4.pmax(xin, f32x4.splat(-4.0)), f32x4.splat(4.0));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.72614225801306e-10);
  p = f32x4.add(f32x4.mul(x2, p), f32x4.splat(2.77068142495902e-08));
  p = f32x4.add(f32x4.mul(x2, p), f32x4.splat(-2.10102402082508e-06));
  p = f32x4.add(f32x4.mul(x2, p), f32x4.splat(-5.69250639462346e-05));
  p = f32x4.add(f32x4.mul(x2, p), f32x4.splat(-7.34990630326855e-04));
  p = f32x4.add(f32x4.mul(x2, p), f32x4.splat(-2.95459980854025e-03));
  p = f32x4.add(f32x4.mul(x2, p), f32x4.splat(-1.60960333262415e-02));
  p = f32x4.mul(x, p);
  let q = f32x4.splat(-1.45660718464996e-05);
  q = f32x4.add(f32x4.mul(x2, q), f32x4.splat(-2.13374055278905e-04));
  q = f32x4.add(f32x4.mul(x2, q), f32x4.splat(-1.68282697438203e-03));
  q = f32x4.add(f32x4.mul(x2, q), f32x4.splat(-7.37332916720468e-03));
  q = f32x4.add(f32x4.mul(x2, q), f32x4.splat(-1.42647390514189e-02));
  return f32x4.div(p, q);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** A 32-bit hash of (seed, index) for 4 consecutive indices starting at idx (lowbias32 finaliser). */
// @ts-ignore: decorator
@inline function hash4(seedMix: u32, idx: u32): v128 {
  let h = i32x4.add(i32x4.splat(<i32>idx), i32x4(0, 1, 2, 3));
  h = i32x4.add(i32x4.mul(h, i32x4.splat(<i32>0x9e3779b1)), i32x4.splat(<i32>seedMix));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(<i32>0x7feb352d));
  h = v128.xor(h, i32x4.shr_u(h, 15));
  h = i32x4.mul(h, i32x4.splat(<i32>0x846ca68b));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  return h;
}

/**
 * The dropout multiplier of 4 consecutive elements: keepScale where hash >= threshold, else 0; all lanes are
 * keepScale when threshold is 0 (no dropout). threshold = round(rate · 2^32).
 */
// @ts-ignore: decorator
@inline function dropMul4(seedMix: u32, idx: u32, threshold: u32, keepScale: f32): v128 {
  const s = f32x4.splat(keepScale);
  if (threshold == 0) return s;
  return v128.and(s, i32x4.ge_u(hash4(seedMix, idx), i32x4.splat(threshold)));
}

// ---------------------------------------------------------------------------------------------------------------
// elementwise kernels

/** y = x · keep(seed, i) / (1 − rate); used for the forward pass and (with the same seed) its gradient. */
export function dropout(x: usize, y: usize, n: i32, threshold: u32, keepScale: f32, seedMix: u32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    v128.store(y + off, f32x4.mul(v128.load(x + off), dropMul4(seedMix, <u32>i, threshold, keepScale)));
  }
  if (i < n) {
    const m = dropMul4(seedMix, <u32>i, threshold, keepScale);
    for (let l = 0; i < n; i++, l++) {
      const mv: f32 = l == 0 ? f32x4.extract_lane(m, 0) : l == 1 ? f32x4.extract_lane(m, 1) : f32x4.extract_lane(m, 2);
      store<f32>(y + ((<usize>i) << 2), load<f32>(x + ((<usize>i) << 2)) * mv);
    }
  }
}

/** Exact (erf) GELU: y = x · ½ · (1 + erf(x / √2)). */
export function gelu(x: usize, y: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1.0);
  const rs2 = f32x4.splat(0.7071067811865476);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    const v = v128.load(x + off);
    v128.store(y + off, f32x4.mul(f32x4.mul(v, half), f32x4.add(one, erfv(f32x4.mul(v, rs2)))));
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 2;
    const v = f32x4.splat(load<f32>(x + off));
    store<f32>(y + off, f32x4.extract_lane(f32x4.mul(f32x4.mul(v, half), f32x4.add(one, erfv(f32x4.mul(v, rs2)))), 0));
  }
}

/** GELU and its derivative in one pass (for training: the backward pass is then one multiplication). */
export function geluWithGrad(x: usize, y: usize, dydx: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1.0);
  const rs2 = f32x4.splat(0.7071067811865476);
  const invSqrt2Pi = f32x4.splat(0.3989422804014327);
  const mhalf = f32x4.splat(-0.5);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const off = (<usize>i) << 2;
    const v = v128.load(x + off);
    const cdf = f32x4.mul(half, f32x4.add(one, erfv(f32x4.mul(v, rs2))));
    const pdf = f32x4.mul(invSqrt2Pi, expNeg(f32x4.mul(mhalf, f32x4.mul(v, v))));
    v128.store(y + off, f32x4.mul(v, cdf));
    v128.store(dydx + off, f32x4.add(cdf, f32x4.mul(v, pdf)));
  }
  for (; i < n; i++) {
    const off = (<usize>i) << 2;
    const v = f32x4.splat(load<f32>(x + off));
    const cdf = f32x4.mul(half, f32x4.add(one, erfv(f32x4.mul(v, rs2))));
    const pdf = f32x4.mul(invSqrt2Pi, expNeg(f32x4.mul(mhalf, f32x4.mul(v, v))));
    store<f32>(y + off, f32x4.extract_lane(f32x4.mul(v, cdf), 0));
    store<f32>(dydx + off, f32x4.extract_lane(f32x4.add(cdf, f32x4.mul(v, pdf)), 0));
  }
}

/** dx = dy · (Φ(x) + x·φ(x)), the derivative of the exact GELU. */
export function geluGrad(dy: usize, x: usize, dx: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1.0);
  const rs2 = f32x4.splat(0.7071067811865476);
  const invSqrt2Pi = f32x4.splat(0.3989422804014327);
  const mhalf = f32x4.splat(-0.5);
  let i = 0;
  for (; i < n; i += 4) {
    const off = (<usize>i) << 2;
    let v: v128, g: v128;
    if (i + 4 <= n) {
      v = v128.load(x + off);
      g = v128.load(dy + off);
    } else {
      v = f32x4.splat(0);
      g = f32x4.splat(0);
      for (let l = 0; i + l < n; l++) {
        const o = off + ((<usize>l) << 2);
        const xv = load<f32>(x + o);
        const gv = load<f32>(dy + o);
        if (l == 0) { v = f32x4.replace_lane(v, 0, xv); g = f32x4.replace_lane(g, 0, gv); }
        else if (l == 1) { v = f32x4.replace_lane(v, 1, xv); g = f32x4.replace_lane(g, 1, gv); }
        else { v = f32x4.replace_lane(v, 2, xv); g = f32x4.replace_lane(g, 2, gv); }
      }
    }
    const cdf = f32x4.mul(half, f32x4.add(one, erfv(f32x4.mul(v, rs2))));
    const pdf = f32x4.mul(invSqrt2Pi, expNeg(f32x4.mul(mhalf, f32x4.mul(v, v))));
    const r = f32x4.mul(g, f32x4.add(cdf, f32x4.mul(v, pdf)));
    if (i + 4 <= n) v128.store(dx + off, r);
    else {
      for (let l = 0; i + l < n; l++) {
        const o = off + ((<usize>l) << 2);
        store<f32>(dx + o, l == 0 ? f32x4.extract_lane(r, 0) : l == 1 ? f32x4.extract_lane(r, 1) : f32x4.extract_lane(r, 2));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNorm over the last axis (C), two passes per row as tfjs moments does; stats keeps (mean, 1/√(var+eps)).

export function layerNorm(x: usize, gamma: usize, beta: usize, y: usize, stats: usize, rows: i32, C: i32, eps: f32): void {
  const C4 = C & ~3;
  const invC: f32 = 1.0 / <f32>C;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * C) << 2);
    const yr = y + (<usize>(r * C) << 2);
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) acc = f32x4.add(acc, v128.load(xr + ((<usize>c) << 2)));
    let s = hsum(acc);
    for (; c < C; c++) s += load<f32>(xr + ((<usize>c) << 2));
    const mean = s * invC;
    const mv = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (c = 0; c < C4; c += 4) {
      const dv = f32x4.sub(v128.load(xr + ((<usize>c) << 2)), mv);
      acc = f32x4.add(acc, f32x4.mul(dv, dv));
    }
    let ss = hsum(acc);
    for (; c < C; c++) { const dv = load<f32>(xr + ((<usize>c) << 2)) - mean; ss += dv * dv; }
    const rstd: f32 = 1.0 / sqrt<f32>(ss * invC + eps);
    const rv = f32x4.splat(rstd);
    for (c = 0; c < C4; c += 4) {
      const o = (<usize>c) << 2;
      const n = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
      v128.store(yr + o, f32x4.add(f32x4.mul(n, v128.load(gamma + o)), v128.load(beta + o)));
    }
    for (; c < C; c++) {
      const o = (<usize>c) << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mean) * rstd * load<f32>(gamma + o) + load<f32>(beta + o));
    }
    store<f32>(stats + (<usize>(r * 2) << 2), mean);
    store<f32>(stats + (<usize>(r * 2 + 1) << 2), rstd);
  }
}

/** dx of LayerNorm: rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dy · gamma. */
export function layerNormGradX(dy: usize, x: usize, gamma: usize, stats: usize, dx: usize, rows: i32, C: i32): void {
  const C4 = C & ~3;
  const invC: f32 = 1.0 / <f32>C;
  for (let r = 0; r < rows; r++) {
    const base = <usize>(r * C) << 2;
    const mean = load<f32>(stats + (<usize>(r * 2) << 2));
    const rstd = load<f32>(stats + (<usize>(r * 2 + 1) << 2));
    const mv = f32x4.splat(mean);
    const rv = f32x4.splat(rstd);
    let sg = f32x4.splat(0);
    let sgx = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) {
      const o = base + ((<usize>c) << 2);
      const g = f32x4.mul(v128.load(dy + o), v128.load(gamma + ((<usize>c) << 2)));
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      sg = f32x4.add(sg, g);
      sgx = f32x4.add(sgx, f32x4.mul(g, xh));
    }
    let sG = hsum(sg);
    let sGX = hsum(sgx);
    for (; c < C; c++) {
      const o = base + ((<usize>c) << 2);
      const g = load<f32>(dy + o) * load<f32>(gamma + ((<usize>c) << 2));
      sG += g;
      sGX += g * (load<f32>(x + o) - mean) * rstd;
    }
    const mg = f32x4.splat(sG * invC);
    const mgx = f32x4.splat(sGX * invC);
    for (c = 0; c < C4; c += 4) {
      const o = base + ((<usize>c) << 2);
      const g = f32x4.mul(v128.load(dy + o), v128.load(gamma + ((<usize>c) << 2)));
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      v128.store(dx + o, f32x4.mul(rv, f32x4.sub(f32x4.sub(g, mg), f32x4.mul(xh, mgx))));
    }
    for (; c < C; c++) {
      const o = base + ((<usize>c) << 2);
      const g = load<f32>(dy + o) * load<f32>(gamma + ((<usize>c) << 2));
      const xh = (load<f32>(x + o) - mean) * rstd;
      store<f32>(dx + o, rstd * (g - sG * invC - xh * sGX * invC));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// attention

/**
 * Scores of a block of 4 query rows against the first Tn keys (Tn a multiple of 8; rows of S and kt are Tp long):
 * S[r][j] = (Σ_c qs[r][c] · kt[c][j]) · scale + maskRow[j]. qs holds the 4 rows' values splatted (v128 per value,
 * [4][d]); kt is K transposed [d][Tp].
 */
// @ts-ignore: decorator
@inline function scoresBlock(qs: usize, kt: usize, maskRow: usize, S: usize, d: i32, Tp: i32, Tn: i32, scale: f32): void {
  const sc = f32x4.splat(scale);
  const dq = (<usize>d) << 4; // bytes between the splatted rows
  const rowBytes = (<usize>Tp) << 2;
  for (let j = 0; j < Tn; j += 8) {
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
    let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
    let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
    let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
    let kp = kt + ((<usize>j) << 2);
    let qp = qs;
    for (let c = 0; c < d; c++) {
      const k0 = v128.load(kp);
      const k1 = v128.load(kp, 16);
      const q0 = v128.load(qp);
      const q1 = v128.load(qp + dq);
      const q2 = v128.load(qp + 2 * dq);
      const q3 = v128.load(qp + 3 * dq);
      a00 = f32x4.add(a00, f32x4.mul(q0, k0)); a01 = f32x4.add(a01, f32x4.mul(q0, k1));
      a10 = f32x4.add(a10, f32x4.mul(q1, k0)); a11 = f32x4.add(a11, f32x4.mul(q1, k1));
      a20 = f32x4.add(a20, f32x4.mul(q2, k0)); a21 = f32x4.add(a21, f32x4.mul(q2, k1));
      a30 = f32x4.add(a30, f32x4.mul(q3, k0)); a31 = f32x4.add(a31, f32x4.mul(q3, k1));
      kp += rowBytes;
      qp += 16;
    }
    const mo = maskRow + ((<usize>j) << 2);
    const m0 = v128.load(mo);
    const m1 = v128.load(mo, 16);
    const so = S + ((<usize>j) << 2);
    v128.store(so, f32x4.add(f32x4.mul(a00, sc), m0)); v128.store(so, f32x4.add(f32x4.mul(a01, sc), m1), 16);
    v128.store(so + rowBytes, f32x4.add(f32x4.mul(a10, sc), m0)); v128.store(so + rowBytes, f32x4.add(f32x4.mul(a11, sc), m1), 16);
    v128.store(so + 2 * rowBytes, f32x4.add(f32x4.mul(a20, sc), m0)); v128.store(so + 2 * rowBytes, f32x4.add(f32x4.mul(a21, sc), m1), 16);
    v128.store(so + 3 * rowBytes, f32x4.add(f32x4.mul(a30, sc), m0)); v128.store(so + 3 * rowBytes, f32x4.add(f32x4.mul(a31, sc), m1), 16);
  }
}

/**
 * out[r][c] = s_r · Σ_{j<T} W[r][j] · X[j][c] for 4 rows r, written to o0..o3 (0 = skip the row). W[r][j] is at
 * W + r·wRow + j·wStep (bytes), so a block of 4 columns of a row-major matrix is read as its transpose with
 * wRow = 4, wStep = row bytes. X rows are at x + j·xStride (bytes), d columns; the row scales s_r are the lanes of `scales`.
 */
// @ts-ignore: decorator
@inline function weightedSum4(W: usize, wRow: usize, wStep: usize, T: i32, x: usize, xStride: usize, d: i32,
  o0: usize, o1: usize, o2: usize, o3: usize, scales: v128): void {
  const rowBytes = wRow;
  const s0 = f32x4.splat(f32x4.extract_lane(scales, 0)), s1 = f32x4.splat(f32x4.extract_lane(scales, 1));
  const s2 = f32x4.splat(f32x4.extract_lane(scales, 2)), s3 = f32x4.splat(f32x4.extract_lane(scales, 3));
  let cv = 0;
  for (; cv + 8 <= d; cv += 8) {
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
    let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
    let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
    let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
    let xp = x + ((<usize>cv) << 2);
    let wp = W;
    for (let j = 0; j < T; j++) {
      const x0 = v128.load(xp);
      const x1 = v128.load(xp, 16);
      const w0 = v128.load32_splat(wp);
      const w1 = v128.load32_splat(wp + rowBytes);
      const w2 = v128.load32_splat(wp + 2 * rowBytes);
      const w3 = v128.load32_splat(wp + 3 * rowBytes);
      a00 = f32x4.add(a00, f32x4.mul(w0, x0)); a01 = f32x4.add(a01, f32x4.mul(w0, x1));
      a10 = f32x4.add(a10, f32x4.mul(w1, x0)); a11 = f32x4.add(a11, f32x4.mul(w1, x1));
      a20 = f32x4.add(a20, f32x4.mul(w2, x0)); a21 = f32x4.add(a21, f32x4.mul(w2, x1));
      a30 = f32x4.add(a30, f32x4.mul(w3, x0)); a31 = f32x4.add(a31, f32x4.mul(w3, x1));
      xp += xStride;
      wp += wStep;
    }
    const oc = (<usize>cv) << 2;
    if (o0 != 0) { v128.store(o0 + oc, f32x4.mul(a00, s0)); v128.store(o0 + oc, f32x4.mul(a01, s0), 16); }
    if (o1 != 0) { v128.store(o1 + oc, f32x4.mul(a10, s1)); v128.store(o1 + oc, f32x4.mul(a11, s1), 16); }
    if (o2 != 0) { v128.store(o2 + oc, f32x4.mul(a20, s2)); v128.store(o2 + oc, f32x4.mul(a21, s2), 16); }
    if (o3 != 0) { v128.store(o3 + oc, f32x4.mul(a30, s3)); v128.store(o3 + oc, f32x4.mul(a31, s3), 16); }
  }
  for (; cv < d; cv += 4) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let xp = x + ((<usize>cv) << 2);
    let wp = W;
    for (let j = 0; j < T; j++) {
      const x0 = v128.load(xp);
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(wp), x0));
      a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(wp + rowBytes), x0));
      a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(wp + 2 * rowBytes), x0));
      a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(wp + 3 * rowBytes), x0));
      xp += xStride;
      wp += wStep;
    }
    const oc = (<usize>cv) << 2;
    if (o0 != 0) v128.store(o0 + oc, f32x4.mul(a0, s0));
    if (o1 != 0) v128.store(o1 + oc, f32x4.mul(a1, s1));
    if (o2 != 0) v128.store(o2 + oc, f32x4.mul(a2, s2));
    if (o3 != 0) v128.store(o3 + oc, f32x4.mul(a3, s3));
  }
}

/** Copies a [T, d] head slice (rows at src + t·stride bytes) transposed into dst [d][Tp], zero-padding j ≥ T. */
// @ts-ignore: decorator
@inline function transposeHead(src: usize, stride: usize, T: i32, Tp: i32, d: i32, dst: usize): void {
  for (let j = 0; j < T; j++) {
    const row = src + <usize>j * stride;
    for (let c = 0; c < d; c++) store<f32>(dst + (<usize>(c * Tp + j) << 2), load<f32>(row + ((<usize>c) << 2)));
  }
  for (let c = 0; c < d; c++) for (let j = T; j < Tp; j++) store<f32>(dst + (<usize>(c * Tp + j) << 2), 0);
}

/** Splats 4 rows of d values (row pointers r0..r3) into qs [4][d] v128s. */
// @ts-ignore: decorator
@inline function splatRows(r0: usize, r1: usize, r2: usize, r3: usize, d: i32, qs: usize): void {
  const dq = (<usize>d) << 4;
  for (let c = 0; c < d; c++) {
    const o = (<usize>c) << 2;
    const q = qs + ((<usize>c) << 4);
    v128.store(q, v128.load32_splat(r0 + o));
    v128.store(q + dq, v128.load32_splat(r1 + o));
    v128.store(q + 2 * dq, v128.load32_splat(r2 + o));
    v128.store(q + 3 * dq, v128.load32_splat(r3 + o));
  }
}

/**
 * Fills the mask row of batch b (additive mask values for j < T, -inf for the padding j ≥ T) and returns the number
 * of keys that can get weight: 1 + the last j whose mask is not ≤ −1e30. Keys after it have probability exactly 0
 * (exp underflows), so the kernels skip them: with right-padded batches this skips the padding. A row with no
 * unmasked key keeps all T (softmax of equal values is uniform, as in the reference).
 */
// @ts-ignore: decorator
@inline function fillMaskRow(mask: usize, b: i32, T: i32, Tp: i32, maskRow: usize): i32 {
  let keys = 0;
  for (let j = 0; j < T; j++) {
    const m: f32 = mask == 0 ? 0 : load<f32>(mask + (<usize>(b * T + j) << 2));
    store<f32>(maskRow + ((<usize>j) << 2), m);
    if (m > -1e30) keys = j + 1;
  }
  for (let j = T; j < Tp; j++) store<f32>(maskRow + ((<usize>j) << 2), f32.NEGATIVE_INFINITY);
  return keys == 0 ? T : keys;
}

/** Bytes of scratch memory attentionForward / attentionBackward need for sequence length T and head size d. */
export function attentionScratchBytes(T: i32, d: i32): i32 {
  const Tp = (T + 7) & ~7;
  const T4 = (T + 3) & ~3;
  // kt, vt: d·Tp each; maskRow, zeroRow, mRow: Tp each; the backward pass's A and dS: T4·Tp each (the forward pass uses
  // one 4-row block of them); splatted rows: 2 · 4·d v128s
  return (2 * d * Tp + 3 * Tp + 2 * T4 * Tp) * 4 + 2 * 4 * d * 16 + 64;
}

/**
 * Forward attention. qkv: [N, rowStride] floats holding Q, K, V at column offsets qOff, kOff, vOff; out: [N, H·d]
 * context; stats: [B, H, T, 2] (row max, 1/row sum) for the backward pass; mask: [B, T] additive (0 = none);
 * headMask: [H] (0 = none). Dropout on the probabilities when threshold > 0 (keepScale = 1/(1−rate)).
 */
export function attentionForward(qkv: usize, rowStride: i32, qOff: i32, kOff: i32, vOff: i32, out: usize, stats: usize,
  mask: usize, headMask: usize, B: i32, T: i32, H: i32, d: i32, scale: f32,
  threshold: u32, keepScale: f32, seedMix: u32, scratch: usize): void {
  const Tp = (T + 7) & ~7;
  const C = H * d;
  const rs = (<usize>rowStride) << 2;
  const kt = (scratch + 15) & ~(<usize>15);
  const maskRow = kt + (<usize>(2 * d * Tp) << 2);
  const S = maskRow + ((<usize>Tp) << 2);
  const qs = S + (<usize>(8 * Tp) << 2);
  const rowBytes = (<usize>Tp) << 2;
  for (let b = 0; b < B; b++) {
    const Tk = fillMaskRow(mask, b, T, Tp, maskRow);
    const Tkp = (Tk + 7) & ~7;
    const rowsB = qkv + <usize>(b * T) * rs;
    for (let h = 0; h < H; h++) {
      const hm: f32 = headMask == 0 ? 1.0 : load<f32>(headMask + ((<usize>h) << 2));
      const hOff = (<usize>(h * d)) << 2;
      const kBase = rowsB + ((<usize>kOff) << 2) + hOff;
      const vBase = rowsB + ((<usize>vOff) << 2) + hOff;
      const qBase = rowsB + ((<usize>qOff) << 2) + hOff;
      transposeHead(kBase, rs, Tk, Tp, d, kt);
      for (let i0 = 0; i0 < T; i0 += 4) {
        const nr = min(4, T - i0);
        const q0 = qBase + <usize>i0 * rs;
        splatRows(q0, nr > 1 ? q0 + rs : q0, nr > 2 ? q0 + 2 * rs : q0, nr > 3 ? q0 + 3 * rs : q0, d, qs);
        scoresBlock(qs, kt, maskRow, S, d, Tp, Tkp, scale);
        // softmax without the normalising pass: S ← exp(S − max) (dropped elements zeroed after the sum), and
        // the 1/sum, 1/(1−rate) and head-mask factors scale each output row in weightedSum4
        let rowScale = f32x4.splat(0);
        for (let r = 0; r < 4; r++) {
          const Sr = S + <usize>r * rowBytes;
          let mx = f32x4.splat(f32.NEGATIVE_INFINITY);
          for (let j = 0; j < Tkp; j += 4) mx = f32x4.pmax(mx, v128.load(Sr + ((<usize>j) << 2)));
          const m = hmax(mx);
          const mv = f32x4.splat(m);
          const rowIdx = <u32>(((b * H + h) * T + i0 + r) * T);
          let sum = f32x4.splat(0);
          for (let j = 0; j < Tkp; j += 4) {
            const o = Sr + ((<usize>j) << 2);
            let e = expNeg(f32x4.sub(v128.load(o), mv));
            sum = f32x4.add(sum, e);
            if (threshold != 0) e = v128.and(e, i32x4.ge_u(hash4(seedMix, rowIdx + <u32>j), i32x4.splat(<i32>threshold)));
            v128.store(o, e);
          }
          const inv: f32 = 1.0 / hsum(sum);
          const sc: f32 = inv * keepScale * hm;
          rowScale = r == 0 ? f32x4.replace_lane(rowScale, 0, sc) : r == 1 ? f32x4.replace_lane(rowScale, 1, sc) : r == 2 ? f32x4.replace_lane(rowScale, 2, sc) : f32x4.replace_lane(rowScale, 3, sc);
          if (r < nr) {
            const so = stats + (<usize>(((b * H + h) * T + i0 + r) * 2) << 2);
            store<f32>(so, m);
            store<f32>(so, inv, 4);
          }
        }
        const ob = out + (<usize>((b * T + i0) * C) << 2) + hOff;
        const cb = (<usize>C) << 2;
        weightedSum4(S, rowBytes, 4, Tk, vBase, rs, d, ob, nr > 1 ? ob + cb : 0, nr > 2 ? ob + 2 * cb : 0, nr > 3 ? ob + 3 * cb : 0, rowScale);
      }
    }
  }
}

/**
 * Backward attention. dout: [N, H·d] gradient of the context; writes dqkv [N, rowStride] (same layout as qkv:
 * dQ, dK, dV at qOff, kOff, vOff; other columns untouched) and, when dHeadMask != 0, dHeadMask [B, H] partial sums
 * of ∂loss/∂headMask[h] per batch example. Per (batch, head): blocks of 4 query rows recompute P from the saved
 * statistics, form A = P·M (M = dropout · head mask) and dS, and write dQ; the whole A and dS (T × T, in L2) then
 * give dV = Aᵀ·dO and dK = dSᵀ·Q, read as transposed 4-column blocks.
 */
export function attentionBackward(qkv: usize, rowStride: i32, qOff: i32, kOff: i32, vOff: i32, dout: usize, stats: usize,
  mask: usize, headMask: usize, B: i32, T: i32, H: i32, d: i32, scale: f32,
  threshold: u32, keepScale: f32, seedMix: u32, dqkv: usize, dHeadMask: usize, scratch: usize): void {
  const Tp = (T + 7) & ~7;
  const T4 = (T + 3) & ~3;
  const C = H * d;
  const rs = (<usize>rowStride) << 2;
  const cb = (<usize>C) << 2;
  const kt = (scratch + 15) & ~(<usize>15);
  const vt = kt + (<usize>(d * Tp) << 2);
  const maskRow = vt + (<usize>(d * Tp) << 2);
  const zeroRow = maskRow + ((<usize>Tp) << 2);
  const Abig = zeroRow + ((<usize>Tp) << 2);
  const Gbig = Abig + (<usize>(T4 * Tp) << 2);
  const qs = Gbig + (<usize>(T4 * Tp) << 2);
  const gs = qs + (<usize>(4 * d) << 4);
  const mRow = gs + (<usize>(4 * d) << 4);
  const rowBytes = (<usize>Tp) << 2;
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1.0);
  for (let j = 0; j < Tp; j += 4) v128.store(zeroRow + ((<usize>j) << 2), zero);
  for (let b = 0; b < B; b++) {
    const Tk = fillMaskRow(mask, b, T, Tp, maskRow);
    const Tkp = (Tk + 7) & ~7;
    const rowsB = qkv + <usize>(b * T) * rs;
    const dRowsB = dqkv + <usize>(b * T) * rs;
    for (let h = 0; h < H; h++) {
      const hm: f32 = headMask == 0 ? 1.0 : load<f32>(headMask + ((<usize>h) << 2));
      const hOff = (<usize>(h * d)) << 2;
      const qBase = rowsB + ((<usize>qOff) << 2) + hOff;
      const kBase = rowsB + ((<usize>kOff) << 2) + hOff;
      const vBase = rowsB + ((<usize>vOff) << 2) + hOff;
      const gBase = dout + (<usize>(b * T * C) << 2) + hOff;
      const dqBase = dRowsB + ((<usize>qOff) << 2) + hOff;
      const dkBase = dRowsB + ((<usize>kOff) << 2) + hOff;
      const dvBase = dRowsB + ((<usize>vOff) << 2) + hOff;
      transposeHead(kBase, rs, Tk, Tp, d, kt);
      transposeHead(vBase, rs, Tk, Tp, d, vt);
      let dhm = f32x4.splat(0);
      const hv = f32x4.splat(hm);
      const sc = f32x4.splat(scale);
      for (let i0 = 0; i0 < T; i0 += 4) {
        const nr = min(4, T - i0);
        const P = Abig + <usize>i0 * rowBytes;
        const G = Gbig + <usize>i0 * rowBytes;
        const q0 = qBase + <usize>i0 * rs;
        const g0 = gBase + <usize>i0 * cb;
        splatRows(q0, nr > 1 ? q0 + rs : q0, nr > 2 ? q0 + 2 * rs : q0, nr > 3 ? q0 + 3 * rs : q0, d, qs);
        splatRows(g0, nr > 1 ? g0 + cb : g0, nr > 2 ? g0 + 2 * cb : g0, nr > 3 ? g0 + 3 * cb : g0, d, gs);
        scoresBlock(qs, kt, maskRow, P, d, Tp, Tkp, scale); // S
        scoresBlock(gs, vt, zeroRow, G, d, Tp, Tkp, 1.0); // dA = dO·Vᵀ
        for (let r = 0; r < 4; r++) {
          const Pr = P + <usize>r * rowBytes;
          const Gr = G + <usize>r * rowBytes;
          if (r >= nr) {
            for (let j = 0; j < Tkp; j += 4) { v128.store(Pr + ((<usize>j) << 2), zero); v128.store(Gr + ((<usize>j) << 2), zero); }
            continue;
          }
          const so = stats + (<usize>(((b * H + h) * T + i0 + r) * 2) << 2);
          const mv = f32x4.splat(load<f32>(so));
          const iv = f32x4.splat(load<f32>(so, 4));
          const rowIdx = <u32>(((b * H + h) * T + i0 + r) * T);
          // pass 1: P (0 on padding, where S = -inf), rowdot = Σ P·dP, head-mask gradient Σ dA·P·D
          let rowdot = f32x4.splat(0);
          for (let j = 0; j < Tkp; j += 4) {
            const o = (<usize>j) << 2;
            const p = f32x4.mul(expNeg(f32x4.sub(v128.load(Pr + o), mv)), iv);
            const dA = v128.load(Gr + o);
            const D = dropMul4(seedMix, rowIdx + <u32>j, threshold, keepScale);
            const pd = f32x4.mul(p, D);
            const pdA = f32x4.mul(dA, pd);
            dhm = f32x4.add(dhm, pdA);
            rowdot = f32x4.add(rowdot, pdA);
            v128.store(Pr + o, p);
            v128.store(mRow + o, f32x4.mul(D, hv));
          }
          const rd = f32x4.splat(hsum(rowdot) * hm);
          // pass 2: dS = P·(dA·M − rowdot)·scale into G, A = P·M into P, with M = dropout · head mask
          for (let j = 0; j < Tkp; j += 4) {
            const o = (<usize>j) << 2;
            const p = v128.load(Pr + o);
            const M = v128.load(mRow + o);
            const dP = f32x4.mul(v128.load(Gr + o), M);
            v128.store(Gr + o, f32x4.mul(f32x4.mul(p, f32x4.sub(dP, rd)), sc));
            v128.store(Pr + o, f32x4.mul(p, M));
          }
        }
        const dq0 = dqBase + <usize>i0 * rs;
        weightedSum4(G, rowBytes, 4, Tk, kBase, rs, d, dq0, nr > 1 ? dq0 + rs : 0, nr > 2 ? dq0 + 2 * rs : 0, nr > 3 ? dq0 + 3 * rs : 0, one);
      }
      // dV[j] = Σ_i A[i][j] · dO[i],  dK[j] = Σ_i dS[i][j] · Q[i]  (4 key rows j at a time)
      for (let j0 = 0; j0 < T; j0 += 4) {
        const nj = min(4, T - j0);
        const dv0 = dvBase + <usize>j0 * rs;
        const dk0 = dkBase + <usize>j0 * rs;
        if (j0 >= Tk) { // keys that got no weight: zero gradient
          for (let r = 0; r < nj; r++) {
            for (let c = 0; c < d; c += 4) {
              v128.store(dv0 + <usize>r * rs + ((<usize>c) << 2), zero);
              v128.store(dk0 + <usize>r * rs + ((<usize>c) << 2), zero);
            }
          }
          continue;
        }
        const jo = (<usize>j0) << 2;
        weightedSum4(Abig + jo, 4, rowBytes, T, gBase, cb, d, dv0, nj > 1 ? dv0 + rs : 0, nj > 2 ? dv0 + 2 * rs : 0, nj > 3 ? dv0 + 3 * rs : 0, one);
        weightedSum4(Gbig + jo, 4, rowBytes, T, qBase, rs, d, dk0, nj > 1 ? dk0 + rs : 0, nj > 2 ? dk0 + 2 * rs : 0, nj > 3 ? dk0 + 3 * rs : 0, one);
      }
      if (dHeadMask != 0) store<f32>(dHeadMask + (<usize>(b * H + h) << 2), hsum(dhm));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2-D transpose y[C][R] = x[R][C], in 32×32 tiles of 4×4 SIMD blocks (scalar when a side is not a multiple of 4)

export function transpose2d(x: usize, y: usize, R: i32, C: i32): void {
  if ((R & 3) != 0 || (C & 3) != 0) {
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) store<f32>(y + (<usize>(j * R + i) << 2), load<f32>(x + (<usize>(i * C + j) << 2)));
    return;
  }
  const rowX = (<usize>C) << 2;
  const rowY = (<usize>R) << 2;
  for (let i0 = 0; i0 < R; i0 += 32) {
    const i1 = min(i0 + 32, R);
    for (let j0 = 0; j0 < C; j0 += 32) {
      const j1 = min(j0 + 32, C);
      for (let i = i0; i < i1; i += 4) {
        for (let j = j0; j < j1; j += 4) {
          const src = x + (<usize>(i * C + j) << 2);
          const r0 = v128.load(src), r1 = v128.load(src + rowX), r2 = v128.load(src + 2 * rowX), r3 = v128.load(src + 3 * rowX);
          const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
          const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
          const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
          const dst = y + (<usize>(j * R + i) << 2);
          v128.store(dst, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
          v128.store(dst + rowY, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
          v128.store(dst + 2 * rowY, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
          v128.store(dst + 3 * rowY, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
        }
      }
    }
  }
}

/** out[ids[i]] += rows[i] for n rows of C floats (out must be zeroed by the caller). */
export function scatterAddRows(rows: usize, ids: usize, out: usize, n: i32, C: i32): void {
  const C4 = C & ~3;
  for (let i = 0; i < n; i++) {
    const src = rows + (<usize>(i * C) << 2);
    const dst = out + (<usize>(load<i32>(ids + ((<usize>i) << 2)) * C) << 2);
    let c = 0;
    for (; c < C4; c += 4) { const o = (<usize>c) << 2; v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o))); }
    for (; c < C; c++) { const o = (<usize>c) << 2; store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o)); }
  }
}

/** out[i] = table[ids[i]] for n rows of C floats; returns -1, or the position of the first id outside [0, V). */
export function gatherRows(table: usize, ids: usize, out: usize, n: i32, C: i32, V: i32): i32 {
  const bytes = (<usize>C) << 2;
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + ((<usize>i) << 2));
    if (id < 0 || id >= V) return i;
    memory.copy(out + <usize>i * bytes, table + <usize>id * bytes, bytes);
  }
  return -1;
}

/**
 * Head split [B, T, H, d] → [B, H, T, d] (toHeads) or its inverse, merge [B, H, T, d] → [B, T, H, d]; d % 4 == 0.
 */
export function permuteHeads(x: usize, y: usize, B: i32, T: i32, H: i32, d: i32, toHeads: bool): void {
  const db = (<usize>d) << 2;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const merged = <usize>(((b * T + t) * H + h) * d) << 2;
        const split = <usize>(((b * H + h) * T + t) * d) << 2;
        const src = x + (toHeads ? merged : split);
        const dst = y + (toHeads ? split : merged);
        for (let o: usize = 0; o < db; o += 16) v128.store(dst + o, v128.load(src + o));
      }
    }
  }
}

/** out[c] = Σ_r x[r][c] over R rows of C floats (a bias gradient). */
export function sumRows(x: usize, out: usize, R: i32, C: i32): void {
  const C4 = C & ~3;
  for (let c = 0; c < C; c++) store<f32>(out + ((<usize>c) << 2), 0);
  for (let r = 0; r < R; r++) {
    const row = x + (<usize>(r * C) << 2);
    let c = 0;
    for (; c < C4; c += 4) { const o = (<usize>c) << 2; v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(row + o))); }
    for (; c < C; c++) { const o = (<usize>c) << 2; store<f32>(out + o, load<f32>(out + o) + load<f32>(row + o)); }
  }
}
