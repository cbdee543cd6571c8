// Eigenvalues of a small real symmetric matrix by the cyclic Jacobi method (float64), and the nuclear norm of a
// matrix from the eigenvalues of its Gram matrix. Only eigenvalues are computed (no eigenvectors), which is all the
// information-richness measure needs. The rotation formulas follow the classic threshold Jacobi (Rutishauser 1971,
// as in Numerical Recipes `jacobi`): the first sweeps skip small off-diagonal entries, later sweeps set entries that
// are negligible next to both diagonal entries to zero, and the diagonal is refreshed from accumulated updates once
// per sweep to limit round-off.

export interface JacobiOptions {
  /** Stop after this many sweeps even if not converged (default 60; 6–10 sweeps are typical). */
  maxSweeps?: number;
}

export interface EigenResult {
  /** Eigenvalues in no particular order. */
  values: Float64Array;
  sweeps: number;
  converged: boolean;
}

/**
 * Eigenvalues of the symmetric n×n matrix `a` (row-major; only the upper triangle is read). `a` is not modified.
 */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number, opts: JacobiOptions = {}): EigenResult {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`symmetricEigenvalues: n must be a non-negative integer, got ${n}`);
  if (a.length < n * n) throw new RangeError(`symmetricEigenvalues: matrix has ${a.length} entries, expected ${n}×${n}=${n * n}`);
  const maxSweeps = opts.maxSweeps ?? 60;
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) m[i * n + j] = a[i * n + j];
  const d = new Float64Array(n);
  const b = new Float64Array(n);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = b[i] = m[i * n + i];
  if (n <= 1) return { values: d, sweeps: 0, converged: true };

  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    let offSum = 0;
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) offSum += Math.abs(m[p * n + q]);
    if (offSum === 0) return { values: d, sweeps: sweep - 1, converged: true };
    const threshold = sweep < 4 ? (0.2 * offSum) / (n * n) : 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        const g = 100 * Math.abs(apq);
        if (sweep > 4 && Math.abs(d[p]) + g === Math.abs(d[p]) && Math.abs(d[q]) + g === Math.abs(d[q])) {
          m[p * n + q] = 0;
          continue;
        }
        if (Math.abs(apq) <= threshold) continue;
        let h = d[q] - d[p];
        let t: number;
        if (Math.abs(h) + g === Math.abs(h)) {
          t = apq / h;
        } else {
          const theta = (0.5 * h) / apq;
          t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
          if (theta < 0) t = -t;
        }
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        const tau = s / (1 + c);
        h = t * apq;
        z[p] -= h;
        z[q] += h;
        d[p] -= h;
        d[q] += h;
        m[p * n + q] = 0;
        // Rotate the remaining upper-triangle entries of rows/columns p and q.
        for (let j = 0; j < p; j++) rotate(m, j * n + p, j * n + q, s, tau);
        for (let j = p + 1; j < q; j++) rotate(m, p * n + j, j * n + q, s, tau);
        for (let j = q + 1; j < n; j++) rotate(m, p * n + j, q * n + j, s, tau);
      }
    }
    for (let i = 0; i < n; i++) {
      b[i] += z[i];
      d[i] = b[i];
      z[i] = 0;
    }
  }
  let offSum = 0;
  for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) offSum += Math.abs(m[p * n + q]);
  return { values: d, sweeps: maxSweeps, converged: offSum === 0 };
}

function rotate(m: Float64Array, i: number, j: number, s: number, tau: number): void {
  const g = m[i];
  const h = m[j];
  m[i] = g - s * (h + g * tau);
  m[j] = h + s * (g - h * tau);
}

/**
 * Nuclear norm (sum of singular values) of a matrix X from its Gram matrix XᵀX or XXᵀ (n×n, row-major):
 * singular values are the square roots of the Gram eigenvalues. Eigenvalues below n·2⁻⁵²·λmax (which includes the
 * round-off negatives) are taken as 0: forming the Gram squares the condition number, so such eigenvalues are
 * round-off, and their square roots (≈ √ε·σmax each) would otherwise add noise to the sum.
 */
export function nuclearNormFromGram(gram: ArrayLike<number>, n: number, opts: JacobiOptions = {}): number {
  const { values } = symmetricEigenvalues(gram, n, opts);
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  const floor = n * Number.EPSILON * max;
  let sum = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > floor) sum += Math.sqrt(values[i]);
  return sum;
}
