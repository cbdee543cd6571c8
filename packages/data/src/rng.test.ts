import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveSeed, Rng } from './rng.ts';

const draw = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextUint32());

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    assert.deepEqual(draw(new Rng(42), 20), draw(new Rng(42), 20));
    assert.notDeepEqual(draw(new Rng(42), 20), draw(new Rng(43), 20));
    assert.notDeepEqual(draw(new Rng(0), 5), draw(new Rng(2 ** 32), 5)); // high bits of the seed count
  });

  it('saves and restores its state exactly (JSON round trip)', () => {
    const a = new Rng(7);
    draw(a, 13);
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const b = Rng.fromState(saved);
    assert.deepEqual(draw(b, 50), draw(a, 50));
    assert.throws(() => Rng.fromState({ algorithm: 'mulberry32', state: -1 }), /invalid RngState/);
  });

  it('int(n) stays in range and is roughly uniform (chi-square over 10 bins)', () => {
    const r = new Rng(1);
    const bins = new Array(10).fill(0);
    const N = 20000;
    for (let i = 0; i < N; i++) bins[r.int(10)]++;
    const expected = N / 10;
    const chi2 = bins.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(χ² > 27.88) = 0.001.
    assert.ok(chi2 < 27.88, `chi2 = ${chi2}, bins ${bins}`);
    assert.throws(() => r.int(0), RangeError);
  });

  it('next() is in [0, 1)', () => {
    const r = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
    }
  });

  it('shuffle and permutation give permutations', () => {
    const p = new Rng(5).permutation(100);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.notDeepEqual(p, Array.from({ length: 100 }, (_, i) => i));
  });

  it('deriveSeed separates (seed, epoch) streams and rejects non-integers', () => {
    const seeds = new Set([0, 1, 2, 3].flatMap((s) => [0, 1, 2, 3].map((e) => deriveSeed(s, e))));
    assert.equal(seeds.size, 16);
    assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
    assert.throws(() => deriveSeed(1.5), RangeError);
  });
});
