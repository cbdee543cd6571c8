import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nuclearNormFromGram, symmetricEigenvalues } from './symmetricEigen.ts';
import { assertClose, gramOf, randomMatrix, transpose } from './testSupport.ts';

const sorted = (v: Float64Array) => [...v].sort((a, b) => a - b);

/** Eigenvalues of a symmetric 3×3 matrix in closed form (trigonometric solution of the characteristic cubic). */
function eigen3(a: ArrayLike<number>): number[] {
  const [a11, a12, a13, , a22, a23, , , a33] = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]];
  const p1 = a12 * a12 + a13 * a13 + a23 * a23;
  const q = (a11 + a22 + a33) / 3;
  const p2 = (a11 - q) ** 2 + (a22 - q) ** 2 + (a33 - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  const b = [a11 - q, a12, a13, a12, a22 - q, a23, a13, a23, a33 - q].map((v) => v / p);
  const det = b[0] * (b[4] * b[8] - b[5] * b[7]) - b[1] * (b[3] * b[8] - b[5] * b[6]) + b[2] * (b[3] * b[7] - b[4] * b[6]);
  const phi = Math.acos(Math.min(1, Math.max(-1, det / 2))) / 3;
  const l1 = q + 2 * p * Math.cos(phi);
  const l3 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  return [l1, 3 * q - l1 - l3, l3].sort((x, y) => x - y);
}

test('eigenvalues of [[2,1],[1,2]] are 1 and 3', () => {
  const { values, converged } = symmetricEigenvalues([2, 1, 1, 2], 2);
  assert.equal(converged, true);
  const [a, b] = sorted(values);
  assertClose(a, 1, 1e-12, 'λmin');
  assertClose(b, 3, 1e-12, 'λmax');
});

test('a random 12×12 symmetric matrix: eigenvalues keep the trace and the Frobenius norm', () => {
  const n = 12;
  const x = randomMatrix(n, n, 7);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = x[i * n + j] + x[j * n + i];
  const { values, converged, sweeps } = symmetricEigenvalues(a, n);
  assert.equal(converged, true);
  assert.ok(sweeps < 20, `took ${sweeps} sweeps`);
  let trace = 0;
  let frob = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i];
  for (const v of a) frob += v * v;
  assertClose(values.reduce((s, v) => s + v, 0), trace, 1e-10, 'Σλ = trace');
  assertClose(values.reduce((s, v) => s + v * v, 0), frob, 1e-9, 'Σλ² = ||A||_F²');
});

test('nuclear norm of diag(3, 4) is 7', () => {
  const x = [3, 0, 0, 4];
  assertClose(nuclearNormFromGram(gramOf(x, 2, 2), 2), 7, 1e-12, '||diag(3,4)||_*');
});

test('nuclear norm of a rank-1 matrix u·vᵀ is |u|·|v|', () => {
  const u = [1, 2, 2]; // |u| = 3
  const v = [3, 0, 4, 0]; // |v| = 5
  const x = u.flatMap((ui) => v.map((vj) => ui * vj)); // [3, 4]
  assertClose(nuclearNormFromGram(gramOf(x, 3, 4), 4), 15, 1e-10, '||u vᵀ||_*');
});

test('nuclear norm of a random 5×3 matrix: Jacobi on XᵀX, closed-form cubic on XᵀX and Jacobi on XXᵀ agree', () => {
  const x = randomMatrix(5, 3, 11);
  const g = gramOf(x, 5, 3);
  const closedForm = eigen3(g).reduce((s, l) => s + Math.sqrt(Math.max(l, 0)), 0);
  const viaJacobi = nuclearNormFromGram(g, 3);
  const viaOuter = nuclearNormFromGram(gramOf(transpose(x, 5, 3), 3, 5), 5); // XXᵀ: 5×5 with two zero eigenvalues
  assertClose(viaJacobi, closedForm, 1e-10, 'Jacobi vs closed form');
  assertClose(viaOuter, closedForm, 1e-7, 'XXᵀ vs XᵀX');
  assert.deepEqual(sorted(symmetricEigenvalues(g, 3).values).map((v) => +v.toFixed(9)), eigen3(g).map((v) => +v.toFixed(9)));
});

test('round-off negative eigenvalues are clamped: a PSD Gram of a rank-deficient matrix gives no NaN', () => {
  const x = [1, 1, 1, 1, 1, 1]; // rank 1, 2×3
  const n = nuclearNormFromGram(gramOf(x, 2, 3), 3);
  assert.ok(Number.isFinite(n));
  assertClose(n, Math.sqrt(6), 1e-7, 'rank-1 ones');
});

test('bad sizes are rejected with a message naming the problem', () => {
  assert.throws(() => symmetricEigenvalues([1, 2, 3], 2), /expected 2×2=4/);
  assert.throws(() => symmetricEigenvalues([], -1), /non-negative integer/);
});
