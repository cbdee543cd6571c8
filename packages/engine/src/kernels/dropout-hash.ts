// Counter-based dropout: element i of a dropout site is kept when hash(seed, i) >= rate · 2^32. The same function is
// compiled into the wasm kernels (hash4 in hifi-kernels.as); this host copy lets the reference (non-wasm) path draw
// identical masks, so both paths drop the same elements for the same seed and a backward pass can regenerate a mask
// instead of storing it.

/** Folds a (possibly > 2^32) integer seed into the 32-bit value the hash adds. */
export function seedMix(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0xc2b2ae35) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The drop threshold of a rate: elements whose hash is below it are dropped. */
export function dropThreshold(rate: number): number {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  return rate === 0 ? 0 : Math.min(4294967295, Math.max(1, Math.round(rate * 4294967296)));
}

/** The multiplier of kept elements, as float32 (same rounding as tf.dropout's division by keepProb). */
export function keepScale(rate: number): number {
  return Math.fround(1 / Math.fround(1 - rate));
}

/** lowbias32 hash of element index i under a mixed seed (must match hash4 in hifi-kernels.as). */
export function elementHash(mix: number, i: number): number {
  let h = (Math.imul(i >>> 0, 0x9e3779b1) + mix) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Dropout multipliers (0 or 1/(1−rate)) of n consecutive elements starting at element index 0. */
export function dropoutMultipliers(n: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const threshold = dropThreshold(rate);
  const scale = keepScale(rate);
  const mix = seedMix(seed);
  for (let i = 0; i < n; i++) out[i] = elementHash(mix, i) >= threshold ? scale : 0;
  return out;
}

/** A fresh random seed for calls that do not pass one. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296);
}
