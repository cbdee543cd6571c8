// Fixtures and synthetic data for this package's tests (not part of the public API).
import { join, resolve } from 'node:path';
import { initBackend, EncoderModel, withLabels, type ModelConfig, type StateDict } from '@hifi/engine';
import { loadCheckpointDir } from '@hifi/engine';
import { Rng, type TokenizedExample } from '@hifi/data';
import { enableTraining } from './enable-training.ts';

export const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
export const fixtureDir = (name: 'tiny-bert' | 'tiny-roberta') => join(SHARED, 'fixtures', name);

export async function setupTfjs(): Promise<void> {
  await initBackend();
  await enableTraining();
}

export interface Fixture {
  config: ModelConfig;
  weights: StateDict;
}

const cache = new Map<string, Fixture>();

/** The fixture's config (optionally with another label count) and weights, read once per process. */
export async function loadFixture(name: 'tiny-bert' | 'tiny-roberta', numLabels?: number): Promise<Fixture> {
  let f = cache.get(name);
  if (!f) {
    const ck = await loadCheckpointDir(fixtureDir(name));
    f = { config: ck.config, weights: ck.weights };
    cache.set(name, f);
  }
  const config = numLabels === undefined ? f.config : withLabels(f.config, numLabels === 1 ? 'regression' : Array.from({ length: numLabels }, (_, i) => `L${i}`));
  return { config, weights: f.weights };
}

export function buildModel(fx: Fixture, seed = 1): EncoderModel {
  return EncoderModel.fromStateDict(fx.config, fx.weights, { seed }).model;
}

/**
 * A learnable task: class c draws its tokens from its own id range, so the class is visible in the bag of
 * words. Regression (numLabels 1): the target is the fraction of tokens from the "high" range.
 */
export function syntheticExamples(config: ModelConfig, n: number, seed: number, opts: { minLen?: number; maxLen?: number } = {}): TokenizedExample[] {
  const rng = new Rng(seed);
  const minLen = opts.minLen ?? 4;
  const maxLen = opts.maxLen ?? 12;
  const [cls, sep] = config.modelType === 'bert' ? [101, 102] : [0, 2];
  const out: TokenizedExample[] = [];
  for (let i = 0; i < n; i++) {
    const len = minLen + rng.int(maxLen - minLen + 1);
    const ids: number[] = [cls];
    let label: number;
    if (config.numLabels === 1) {
      let high = 0;
      for (let t = 0; t < len; t++) {
        const isHigh = rng.next() < 0.5;
        if (isHigh) high++;
        ids.push((isHigh ? 2000 : 1000) + rng.int(50));
      }
      label = high / len;
    } else {
      label = rng.int(config.numLabels);
      for (let t = 0; t < len; t++) ids.push(1000 + 500 * label + rng.int(50));
    }
    ids.push(sep);
    out.push({ inputIds: ids, tokenTypeIds: new Array<number>(ids.length).fill(0), label });
  }
  return out;
}
