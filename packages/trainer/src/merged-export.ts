// The merged export: a complete Hugging Face *ForSequenceClassification checkpoint directory (config.json with the
// task's labels, model.safetensors in HF layout, the tokenizer files) that any BERT/RoBERTa loader can read,
// including this project's engine.
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { expectedParameters, toConfigJson, writeSafetensors, type ModelConfig, type StateDict } from '@hifi/engine';
import { writeFileAtomic } from './checkpoint-sink.ts';

export const MERGED_WEIGHTS_FILE = 'model.safetensors';
export const MERGED_CONFIG_FILE = 'config.json';

/** The safetensors metadata of a merged export (the same from training and from applyAdapter). */
export function mergedMetadata(strategy: string, baseFingerprint: string): Record<string, string> {
  return { hifi_strategy: strategy, hifi_base: baseFingerprint };
}

/**
 * Writes config.json, model.safetensors (exactly the parameters of a *ForSequenceClassification model with this
 * config, checked by name and shape) and copies of the tokenizer files into `outDir`.
 */
export async function writeMergedModel(outDir: string, config: ModelConfig, stateDict: StateDict, tokenizerFiles: readonly string[], metadata: Record<string, string> = {}): Promise<void> {
  const expected = expectedParameters(config);
  const weights: StateDict = new Map();
  for (const [key, shape] of expected) {
    const t = stateDict.get(key);
    if (!t) throw new Error(`writeMergedModel: missing parameter ${key}`);
    if (t.shape.join() !== shape.join()) throw new Error(`writeMergedModel: ${key} has shape [${t.shape}], expected [${shape}]`);
    weights.set(key, t);
  }
  await mkdir(outDir, { recursive: true });
  await writeSafetensors(join(outDir, MERGED_WEIGHTS_FILE), weights, { format: 'pt', ...metadata });
  await writeFileAtomic(join(outDir, MERGED_CONFIG_FILE), `${JSON.stringify(toConfigJson(config), null, 2)}\n`);
  for (const f of tokenizerFiles) await copyFile(f, join(outDir, basename(f)));
}
