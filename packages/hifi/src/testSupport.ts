// Helpers shared by this package's tests (not exported from index.ts).

/** Seeded standard-normal generator (mulberry32 + Box–Muller). */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-300))) * Math.cos(2 * Math.PI * uniform());
}

/** Row-major [rows, cols] matrix of standard normals. */
export function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const g = gaussian(seed);
  return Float64Array.from({ length: rows * cols }, g);
}

/** Gram matrix XᵀX of a row-major [rows, cols] matrix. */
export function gramOf(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const g = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) g[i * cols + j] += x[r * cols + i] * x[r * cols + j];
  return g;
}

export function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
  return t;
}

/** Closes an absolute tolerance check with a readable message. */
export function assertClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: expected ${expected}, got ${actual} (tolerance ${tol})`);
}
