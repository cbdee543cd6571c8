import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nuclearNormFromGram, symmetricEigenvalues } from './symmetricEigen.ts';
import { TridiagonalEigenSolver, tridiagonalEigenvalues } from './tridiagonalEigen.ts';
import { assertClose, gramOf, randomMatrix } from './testSupport.ts';

const sorted = (v: ArrayLike<number>) => [...Array.from(v)].sort((a, b) => a - b);

/** Checks the QL eigenvalues against the Jacobi reference, relative to the largest |λ|. */
function agreesWithJacobi(a: ArrayLike<number>, n: number, what: string, rel = 1e-12): void {
  const ref = sorted(symmetricEigenvalues(a, n).values);
  const got = sorted(tridiagonalEigenvalues(a, n));
  assert.equal(got.length, n);
  const scale = Math.max(1e-300, ...ref.map(Math.abs));
  ref.forEach((v, i) => assertClose(got[i] / scale, v / scale, rel, `${what}: λ${i}`));
}

test('tridiagonal QL matches the Jacobi reference on random symmetric matrices, PSD or not', () => {
  for (const n of [1, 2, 3, 5, 8, 16, 33, 64]) {
    const x = randomMatrix(n, n, 100 + n);
    const sym = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sym[i * n + j] = x[i * n + j] + x[j * n + i];
    agreesWithJacobi(sym, n, `indefinite ${n}×${n}`);
    agreesWithJacobi(gramOf(randomMatrix(n + 3, n, 200 + n), n + 3, n), n, `full-rank Gram ${n}×${n}`);
  }
});

test('rank-deficient Grams (fewer rows than columns), repeated and zero eigenvalues', () => {
  for (const [rows, n] of [[1, 16], [3, 16], [15, 16], [7, 64]]) {
    agreesWithJacobi(gramOf(randomMatrix(rows, n, rows * n), rows, n), n, `rank-${rows} Gram ${n}×${n}`);
  }
  agreesWithJacobi([2, 0, 0, 0, 2, 0, 0, 0, 2], 3, '2·I');
  agreesWithJacobi(new Float64Array(16), 4, 'zero matrix');
  agreesWithJacobi([4, 1, 0, 0, 1, 4, 0, 0, 0, 0, 4, 1, 0, 0, 1, 4], 4, 'two equal 2×2 blocks');
  agreesWithJacobi([1e6, 1, 1, 1e-6], 2, 'widely spread scales');
});

test('only the upper triangle is read and the input is left unchanged', () => {
  const a = [2, 1, 0, 99, 3, 1, -50, 7, 4]; // junk below the diagonal
  const copy = [...a];
  const upper = [2, 1, 0, 1, 3, 1, 0, 1, 4];
  assert.deepEqual(sorted(tridiagonalEigenvalues(a, 3)).map((v) => +v.toFixed(12)), sorted(symmetricEigenvalues(upper, 3).values).map((v) => +v.toFixed(12)));
  assert.deepEqual(a, copy);
});

test('the solver reads at an offset, reuses its scratch and gives the same nuclear norm as the reference', () => {
  const solver = new TridiagonalEigenSolver();
  const n = 16;
  const grams = [gramOf(randomMatrix(9, n, 1), 9, n), gramOf(randomMatrix(40, n, 2), 40, n), gramOf(randomMatrix(2, n, 3), 2, n)];
  const stacked = new Float64Array(grams.length * n * n);
  grams.forEach((g, i) => stacked.set(g, i * n * n));
  grams.forEach((g, i) => {
    const ref = nuclearNormFromGram(g, n);
    assertClose(solver.nuclearNormFromGram(stacked, n, i * n * n) / ref, 1, 1e-12, `nuclear norm of Gram ${i}`);
  });
  const bytes = solver.scratchBytes;
  solver.nuclearNormFromGram(grams[0], n);
  solver.nuclearNormFromGram([4, 0, 0, 9], 2);
  assert.equal(solver.scratchBytes, bytes, 'scratch does not grow for sizes already seen');
  assert.equal(solver.fallbacks, 0);
  // Rank-1 Gram: the floor removes round-off eigenvalues, as in the reference (|u|·|v| exactly).
  const u = [1, 2, 2];
  const v = [3, 0, 4, 0];
  assertClose(solver.nuclearNormFromGram(gramOf(u.flatMap((a) => v.map((b) => a * b)), 3, 4), 4), 15, 1e-10, '||u vᵀ||_*');
});

test('bad sizes are rejected with a message naming the problem', () => {
  assert.throws(() => tridiagonalEigenvalues([1, 2, 3], 2), /expected 2×2=4/);
  assert.throws(() => tridiagonalEigenvalues([], -1), /non-negative integer/);
});
