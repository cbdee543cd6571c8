// AssemblyScript source of the statistics kernel (built by build-head-stats.ts into head-stats.wasm): the host path of
// headStatistics.ts for one layer of one batch, in WebAssembly with float64 SIMD (f64x2). It is the same algorithm as
// exampleGrams.ts + tridiagonalEigen.ts (those stay the readable JavaScript version and the fallback):
//  - per example, centre the real tokens of each head (float32 in, float64 from here on);
//  - per-head Grams in the smaller space (token K_h = Ō_hŌ_hᵀ when T_e ≤ d, feature F_h = Ō_hᵀŌ_h otherwise);
//  - cross terms S_ij = ||Ō_iᵀŌ_j||_F², through the token Grams (packed upper triangles, off-diagonal × √2, one dot
//    product per pair) while T_e·(2d + H) ≤ 2H·d², else block by block;
//  - nuclear norms: Householder tridiagonalisation + rational QL (EISPACK tqlrat), eigenvalues at or below
//    n·2⁻⁵²·λmax counted as 0; RV_ij = S_ij / √(S_ii S_jj) clamped to [0, 1].
// Outputs per example: richness[b, h], rv[b, i, j] and status[b] (0 = used, 1 = fewer than 2 real tokens, skipped,
// 2 = QL did not converge on some head: the caller redoes that example with the JavaScript path and its Jacobi
// fallback). The memory is imported; the caller lays out every buffer (see headStatsWasm.ts).

const EPSILON: f64 = 2.220446049250313e-16;
const SQRT2: f64 = 1.4142135623730951;
const MAX_QL_ITERATIONS: i32 = 30;

// @ts-ignore: decorator
@inline function f64At(base: usize, i: i32): f64 {
  return load<f64>(base + ((<usize>i) << 3));
}

// @ts-ignore: decorator
@inline function setF64(base: usize, i: i32, v: f64): void {
  store<f64>(base + ((<usize>i) << 3), v);
}

/** Σ a[k]·b[k], k < n, over float64 arrays at byte addresses a and b (two f64x2 accumulators). */
function dot(a: usize, b: usize, n: i32): f64 {
  let s0 = f64x2.splat(0.0);
  let s1 = f64x2.splat(0.0);
  let k: i32 = 0;
  for (; k + 3 < n; k += 4) {
    const o = (<usize>k) << 3;
    s0 = f64x2.add(s0, f64x2.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f64x2.add(s1, f64x2.mul(v128.load(a + o + 16), v128.load(b + o + 16)));
  }
  for (; k + 1 < n; k += 2) {
    const o = (<usize>k) << 3;
    s0 = f64x2.add(s0, f64x2.mul(v128.load(a + o), v128.load(b + o)));
  }
  const s = f64x2.add(s0, s1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  if (k < n) r += f64At(a, k) * f64At(b, k);
  return r;
}

/** y[k] += v·x[k], k < n (float64 arrays at byte addresses). */
function axpy(v: f64, x: usize, y: usize, n: i32): void {
  const vv = f64x2.splat(v);
  let k: i32 = 0;
  for (; k + 1 < n; k += 2) {
    const o = (<usize>k) << 3;
    v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(vv, v128.load(x + o))));
  }
  if (k < n) setF64(y, k, f64At(y, k) + v * f64At(x, k));
}

/**
 * Householder reduction of the symmetric n×n matrix in the lower triangle of a (destroyed) to tridiagonal form:
 * d = diagonal, e2 = squared sub-diagonal (e2[i] couples i−1 and i; e2[0] = 0). tred2 without eigenvectors.
 */
function tridiagonalise(a: usize, n: i32, d: usize, e: usize): void {
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const ri = i * n;
    let h: f64 = 0;
    if (l > 0) {
      let scale: f64 = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(f64At(a, ri + k));
      if (scale == 0) {
        setF64(e, i, f64At(a, ri + l));
      } else {
        for (let k = 0; k <= l; k++) {
          const v = f64At(a, ri + k) / scale;
          setF64(a, ri + k, v);
          h += v * v;
        }
        let f = f64At(a, ri + l);
        let g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        setF64(e, i, scale * g);
        h -= f * g;
        setF64(a, ri + l, f - g);
        f = 0;
        for (let j = 0; j <= l; j++) {
          const rj = j * n;
          g = 0;
          for (let k = 0; k <= j; k++) g += f64At(a, rj + k) * f64At(a, ri + k);
          for (let k = j + 1; k <= l; k++) g += f64At(a, k * n + j) * f64At(a, ri + k);
          const ej = g / h;
          setF64(e, j, ej);
          f += ej * f64At(a, ri + j);
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          f = f64At(a, ri + j);
          g = f64At(e, j) - hh * f;
          setF64(e, j, g);
          const rj = j * n;
          for (let k = 0; k <= j; k++) setF64(a, rj + k, f64At(a, rj + k) - (f * f64At(e, k) + g * f64At(a, ri + k)));
        }
      }
    } else {
      setF64(e, i, f64At(a, ri + l));
    }
  }
  for (let i = 0; i < n; i++) setF64(d, i, f64At(a, i * n + i));
  if (n > 0) setF64(e, 0, 0);
  for (let i = 1; i < n; i++) { const v = f64At(e, i); setF64(e, i, v * v); }
}

/** EISPACK tqlrat on (d, e2): d receives the eigenvalues. False when an eigenvalue needs > 30 iterations. */
function rationalQl(d: usize, e2: usize, n: i32): bool {
  if (n <= 1) return true;
  for (let i = 1; i < n; i++) setF64(e2, i - 1, f64At(e2, i));
  setF64(e2, n - 1, 0);
  let f: f64 = 0;
  let t: f64 = 0;
  let b: f64 = 0;
  let c: f64 = 0;
  for (let l = 0; l < n; l++) {
    let h = Math.abs(f64At(d, l)) + Math.sqrt(f64At(e2, l));
    if (t <= h) {
      t = h;
      b = EPSILON * t;
      c = b * b;
    }
    let m = l;
    while (f64At(e2, m) > c) m++;
    if (m != l) {
      for (let iter = 0; ; iter++) {
        if (iter == MAX_QL_ITERATIONS) return false;
        const l1 = l + 1;
        let s = Math.sqrt(f64At(e2, l));
        let g = f64At(d, l);
        let p = (f64At(d, l1) - g) / (2 * s);
        let r = Math.sqrt(p * p + 1);
        const dl = s / (p + (p >= 0 ? r : -r));
        setF64(d, l, dl);
        h = g - dl;
        for (let i = l1; i < n; i++) setF64(d, i, f64At(d, i) - h);
        f += h;
        g = f64At(d, m);
        if (g == 0) g = b;
        h = g;
        s = 0;
        for (let i = m - 1; i >= l; i--) {
          const ei = f64At(e2, i);
          p = g * h;
          r = p + ei;
          setF64(e2, i + 1, s * r);
          s = ei / r;
          setF64(d, i + 1, h + s * (h + f64At(d, i)));
          g = f64At(d, i) - ei / g;
          if (g == 0) g = b;
          h = (g * p) / r;
        }
        setF64(e2, l, s * g);
        setF64(d, l, h);
        if (h == 0 || Math.abs(f64At(e2, l)) <= Math.abs(c / h)) break;
        const v = h * f64At(e2, l);
        setF64(e2, l, v);
        if (v == 0) break;
      }
    }
    setF64(d, l, f64At(d, l) + f);
  }
  return true;
}

/** Bytes of scratch space layerStats needs for a padded length T (16-byte aligned regions). */
export function scratchBytes(T: i32, H: i32, d: i32): usize {
  const m = T < d ? T : d;
  const doubles = H * T * d // x
    + H * m * m // grams
    + H * T * T // token grams
    + H * ((T * (T + 1)) >> 1) // packed
    + d * d // block
    + d // column means
    + m * m + m + m // eigen work
    + 16; // alignment slack
  return (<usize>T << 2) + 16 + ((<usize>doubles) << 3);
}

// @ts-ignore: decorator
@inline function align16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}

/**
 * One layer of one batch. out: float32 [B, H, T, d]; mask: int32 [B, T] (≠ 0 = real token). Writes rich: f64 [B, H]
 * (nuclear norms), rv: f64 [B, H, H], status: i32 [B], tokens: i32 [B] (real tokens of each example).
 */
export function layerStats(out: usize, mask: usize, B: i32, T: i32, H: i32, d: i32, scratch: usize,
  rich: usize, rv: usize, status: usize, tokens: usize): void {
  const m = T < d ? T : d;
  const idx = scratch;
  const x = align16(idx + ((<usize>T) << 2));
  const grams = align16(x + ((<usize>(H * T * d)) << 3));
  const tok = align16(grams + ((<usize>(H * m * m)) << 3));
  const packed = align16(tok + ((<usize>(H * T * T)) << 3));
  const block = align16(packed + ((<usize>(H * ((T * (T + 1)) >> 1))) << 3));
  const mean = align16(block + ((<usize>(d * d)) << 3));
  const ea = align16(mean + ((<usize>d) << 3));
  const ed = align16(ea + ((<usize>(m * m)) << 3));
  const ee = align16(ed + ((<usize>m) << 3));
  const cross = rv; // S is formed in the rv output of the example, then turned into RV in place

  for (let b = 0; b < B; b++) {
    let Te: i32 = 0;
    for (let t = 0; t < T; t++) {
      if (load<i32>(mask + ((<usize>(b * T + t)) << 2)) != 0) {
        store<i32>(idx + ((<usize>Te) << 2), t);
        Te++;
      }
    }
    store<i32>(tokens + ((<usize>b) << 2), Te);
    const richB = rich + ((<usize>(b * H)) << 3);
    const S = cross + ((<usize>(b * H * H)) << 3);
    if (Te < 2) {
      store<i32>(status + ((<usize>b) << 2), 1);
      continue;
    }
    store<i32>(status + ((<usize>b) << 2), 0);

    // Centre: x[h, t, :] = out[b, h, idx[t], :] − mean_t.
    for (let h = 0; h < H; h++) {
      const src = (b * H + h) * T;
      const dst = h * Te * d;
      for (let k = 0; k < d; k++) setF64(mean, k, 0);
      for (let t = 0; t < Te; t++) {
        const s = (src + load<i32>(idx + ((<usize>t) << 2))) * d;
        const r = dst + t * d;
        for (let k = 0; k < d; k++) {
          const v = <f64>load<f32>(out + ((<usize>(s + k)) << 2));
          setF64(x, r + k, v);
          setF64(mean, k, f64At(mean, k) + v);
        }
      }
      const inv = 1.0 / <f64>Te;
      for (let k = 0; k < d; k++) setF64(mean, k, f64At(mean, k) * inv);
      for (let t = 0; t < Te; t++) {
        const r = dst + t * d;
        for (let k = 0; k < d; k++) setF64(x, r + k, f64At(x, r + k) - f64At(mean, k));
      }
    }

    const tokenSpace = Te <= d;
    const viaTokens = tokenSpace || Te * (2 * d + H) <= 2 * H * d * d;
    const n = tokenSpace ? Te : d;
    const K = tokenSpace ? grams : tok;
    if (viaTokens) {
      for (let h = 0; h < H; h++) {
        const xo = x + ((<usize>(h * Te * d)) << 3);
        const ko = h * Te * Te;
        for (let p = 0; p < Te; p++) {
          for (let q = p; q < Te; q++) {
            const s = dot(xo + ((<usize>(p * d)) << 3), xo + ((<usize>(q * d)) << 3), d);
            setF64(K, ko + p * Te + q, s);
            setF64(K, ko + q * Te + p, s);
          }
        }
      }
    }
    if (!tokenSpace) {
      // Feature Grams, upper triangle rows: F_h[p, p…] += x[t, p]·x[t, p…].
      for (let h = 0; h < H; h++) {
        const go = h * d * d;
        for (let i = 0; i < d * d; i++) setF64(grams, go + i, 0);
        const xo = h * Te * d;
        for (let t = 0; t < Te; t++) {
          const r = xo + t * d;
          for (let p = 0; p < d; p++) {
            const v = f64At(x, r + p);
            if (v == 0) continue;
            axpy(v, x + ((<usize>(r + p)) << 3), grams + ((<usize>(go + p * d + p)) << 3), d - p);
          }
        }
      }
    }

    if (viaTokens) {
      const P = (Te * (Te + 1)) >> 1;
      for (let h = 0; h < H; h++) {
        let o = h * P;
        const ko = h * Te * Te;
        for (let p = 0; p < Te; p++) {
          const r = ko + p * Te;
          setF64(packed, o++, f64At(K, r + p));
          for (let q = p + 1; q < Te; q++) setF64(packed, o++, SQRT2 * f64At(K, r + q));
        }
      }
      for (let i = 0; i < H; i++) {
        for (let j = i; j < H; j++) {
          const s = dot(packed + ((<usize>(i * P)) << 3), packed + ((<usize>(j * P)) << 3), P);
          setF64(S, i * H + j, s);
          setF64(S, j * H + i, s);
        }
      }
    } else {
      for (let i = 0; i < H; i++) {
        let s: f64 = 0;
        const go = i * d * d;
        for (let p = 0; p < d; p++) {
          const r = go + p * d;
          const v = f64At(grams, r + p);
          s += v * v;
          for (let q = p + 1; q < d; q++) { const w = f64At(grams, r + q); s += 2 * w * w; }
        }
        setF64(S, i * H + i, s);
      }
      for (let i = 0; i < H; i++) {
        for (let j = i + 1; j < H; j++) {
          for (let k = 0; k < d * d; k++) setF64(block, k, 0);
          const xi = i * Te * d;
          const xj = j * Te * d;
          for (let t = 0; t < Te; t++) {
            const ri = xi + t * d;
            const rj = x + ((<usize>(xj + t * d)) << 3);
            for (let p = 0; p < d; p++) axpy(f64At(x, ri + p), rj, block + ((<usize>(p * d)) << 3), d);
          }
          const s = dot(block, block, d * d);
          setF64(S, i * H + j, s);
          setF64(S, j * H + i, s);
        }
      }
    }

    // Nuclear norms from the per-head Grams (upper triangle mirrored into the eigen work matrix's lower triangle).
    let failed = false;
    for (let h = 0; h < H; h++) {
      const go = h * n * n;
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) setF64(ea, j * n + i, f64At(grams, go + i * n + j));
      tridiagonalise(ea, n, ed, ee);
      if (!rationalQl(ed, ee, n)) { failed = true; break; }
      let max: f64 = 0;
      for (let i = 0; i < n; i++) { const v = f64At(ed, i); if (v > max) max = v; }
      const floor = <f64>n * EPSILON * max;
      let sum: f64 = 0;
      for (let i = 0; i < n; i++) { const v = f64At(ed, i); if (v > floor) sum += Math.sqrt(v); }
      setF64(richB, h, sum);
    }
    if (failed) {
      store<i32>(status + ((<usize>b) << 2), 2);
      continue;
    }

    // RV in place of S: off-diagonal S_ij / √(S_ii S_jj) in [0, 1] (0 when a head is constant), diagonal 1.
    for (let i = 0; i < H; i++) {
      const sii = f64At(S, i * H + i);
      for (let j = i + 1; j < H; j++) {
        const denom = Math.sqrt(sii * f64At(S, j * H + j));
        let r: f64 = 0;
        if (denom > 0) r = Math.min(1.0, Math.max(0.0, f64At(S, i * H + j) / denom));
        setF64(S, i * H + j, r);
        setF64(S, j * H + i, r);
      }
    }
    for (let i = 0; i < H; i++) setF64(S, i * H + i, 1);
  }
}
