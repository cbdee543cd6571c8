// A small seeded PRNG (mulberry32) whose whole state is one uint32, so it can be saved in a checkpoint
// and restored exactly. Not cryptographic; used for data order, splits and sampling.

/** The serialisable state of an Rng: JSON-safe. */
export interface RngState {
  algorithm: 'mulberry32';
  state: number;
}

function checkSeed(seed: number, what: string): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${what} must be a safe integer, got ${seed}`);
}

/** Mixes a 32-bit value (the murmur3 finaliser); used to derive independent seeds. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Derives a seed from a base seed and a path of integers (e.g. (seed, epoch)), so that each epoch gets an
 * independent stream that depends only on (seed, epoch) and not on how many numbers earlier epochs drew.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  checkSeed(seed, 'seed');
  // Fold both 32-bit halves of the seed, then each part.
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ (Math.floor(seed / 4294967296) >>> 0));
  for (const p of parts) {
    checkSeed(p, 'seed part');
    h = mix32((h + 0x9e3779b9) ^ (p >>> 0));
    h = mix32(h ^ (Math.floor(p / 4294967296) >>> 0));
  }
  return h;
}

export class Rng {
  private s: number;

  /** Any safe integer seed; the stream is mulberry32 started from `deriveSeed(seed)`. */
  constructor(seed: number) {
    this.s = deriveSeed(seed);
  }

  static fromState(state: RngState): Rng {
    if (state.algorithm !== 'mulberry32' || !Number.isInteger(state.state) || state.state < 0 || state.state > 0xffffffff) {
      throw new TypeError(`invalid RngState ${JSON.stringify(state)}`);
    }
    const r = new Rng(0);
    r.s = state.state;
    return r;
  }

  getState(): RngState {
    return { algorithm: 'mulberry32', state: this.s };
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), without modulo bias (rejection sampling). n must be in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
