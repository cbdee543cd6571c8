// Issue 3: "the same seed gives the same selection; a different seed changes `random` but not `hifi` beyond the
// sampling noise you document". On bert-mini-hifi with SST-2 (N = 256, k = 4 per layer), bench/analysis-stability.ts
// measured a mean per-layer overlap of 0.90 for `hifi` across sampling seeds and 0.54 for `random` (chance: 0.50).
// This test holds `hifi` to ≥ 0.75 across two sampling seeds (the documented noise) and `random` to a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadPretrained } from '@hifi/engine';
import { analyzeHeads } from '@hifi/hifi';
import type { HeadAnalysis, SelectionStrategy } from '@hifi/hifi';
import { sample } from '@hifi/data';
import { lengthSortedBatches, loadTaskExamples, tokenizeForAnalysis } from './commands/analyze.ts';

const root = resolve(import.meta.dirname, '../../..');
const shared = resolve(root, process.env.HIFI_SHARED ?? '../shared');
const modelDir = join(shared, 'models/bert-mini-hifi');

/** Mean over layers of |A ∩ B| / k. */
function overlap(a: HeadAnalysis, b: HeadAnalysis, k: number): number {
  const L = a.mask.mask.length;
  let sum = 0;
  for (let l = 0; l < L; l++) sum += a.mask.mask[l].filter((v, h) => v === 1 && b.mask.mask[l][h] === 1).length / k;
  return sum / L;
}

test('hifi selections are stable across sampling seeds; random ones change with the seed', { skip: existsSync(modelDir) ? false : 'bert-mini-hifi not present' }, async (t) => {
  const p = await loadPretrained(modelDir);
  t.after(() => p.model.dispose());
  const { examples } = await loadTaskExamples('glue:SST-2', join(shared, 'data/glue'));
  const k = 4;
  const run = async (seed: number, strategy: SelectionStrategy) => {
    const texts = sample(examples, 256, seed);
    const batches = lengthSortedBatches(tokenizeForAnalysis(p, texts, 64), 32, p.tokenizer.padTokenId);
    return analyzeHeads(p.model, batches, { strategy, budget: { perLayer: k }, seed });
  };
  const hifi0 = await run(0, 'hifi');
  const hifi0again = await run(0, 'hifi');
  const hifi1 = await run(1, 'hifi');
  assert.deepEqual(hifi0.mask.mask, hifi0again.mask.mask, 'same seed, same selection');
  const hifiOverlap = overlap(hifi0, hifi1, k);
  assert.ok(hifiOverlap >= 0.75, `hifi overlap across sampling seeds ${hifiOverlap} < 0.75`);

  const random0 = await run(0, 'random');
  const random1 = await run(1, 'random');
  assert.notDeepEqual(random0.mask.mask, random1.mask.mask, 'random selection must change with the seed');
  assert.ok(overlap(random0, random1, k) < hifiOverlap, 'random is less stable than hifi');
});
