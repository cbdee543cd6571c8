// applyAdapter: base model + adapter → merged checkpoint, without tfjs (host arithmetic only). The result is the
// same, bit for bit, as the merged export written at the end of training.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  expectedParameters, loadCheckpointDir, resolveModelSource, TOKENIZER_FILES, withLabels, type ResolveOptions, type StateDict,
} from '@hifi/engine';
import { adapterLabels, applyAdapterWeights, readAdapter, type AdapterConfig } from './adapter.ts';
import { baseModelFingerprint } from './base-fingerprint.ts';
import { AdapterError } from './errors.ts';
import { mergedMetadata, writeMergedModel } from './merged-export.ts';
import { isTaskHeadKey } from './trainable.ts';

export interface ApplyAdapterOptions extends ResolveOptions {
  /** Merge even when the base model's fingerprint differs from the adapter's (default false: refuse). */
  allowBaseMismatch?: boolean;
}

export interface ApplyAdapterResult {
  outDir: string;
  adapter: AdapterConfig;
  baseFingerprint: string;
  fingerprintMatches: boolean;
}

/** Merges the adapter in `adapterDir` into the base model `base` (a directory or hf:org/name) and writes `outDir`. */
export async function applyAdapter(base: string, adapterDir: string, outDir: string, opts: ApplyAdapterOptions = {}): Promise<ApplyAdapterResult> {
  const { config: adapter, weights } = await readAdapter(adapterDir);
  const dir = await resolveModelSource(base, opts);
  const checkpoint = await loadCheckpointDir(dir);
  const config = withLabels(checkpoint.config, adapterLabels(adapter));
  const a = adapter.baseModel;
  if (config.modelType !== a.modelType || config.numLayers !== a.numLayers || config.numHeads !== a.numHeads || config.hiddenSize !== a.hiddenSize) {
    throw new AdapterError(join(adapterDir, 'adapter_config.json'), `was trained on a ${a.modelType} with ${a.numLayers} layers × ${a.numHeads} heads, hidden ${a.hiddenSize}; ` +
      `${base} is a ${config.modelType} with ${config.numLayers} × ${config.numHeads}, hidden ${config.hiddenSize}`);
  }

  const merged: StateDict = new Map();
  const missing: string[] = [];
  for (const [key, shape] of expectedParameters(config)) {
    const t = checkpoint.weights.get(key);
    const fits = t !== undefined && t.shape.join() === shape.join();
    if (!fits && !isTaskHeadKey(key)) {
      throw new AdapterError(dir, t ? `${key} has shape [${t.shape}], expected [${shape}]` : `base checkpoint lacks ${key}`);
    }
    if (isTaskHeadKey(key) && !weights.has(key)) {
      if (!fits) missing.push(key);
      else merged.set(key, { shape: [...t!.shape], data: new Float32Array(t!.data) });
      continue;
    }
    // Copies: the adapter is written into these in place.
    merged.set(key, fits ? { shape: [...t!.shape], data: new Float32Array(t!.data) } : { shape, data: new Float32Array(shape.reduce((x, y) => x * y, 1)) });
  }
  if (missing.length > 0) throw new AdapterError(adapterDir, `neither the adapter nor the base model has the task-head tensor(s) ${missing.join(', ')}`);

  const encoder: StateDict = new Map([...merged].filter(([k]) => !isTaskHeadKey(k)));
  const baseFingerprint = baseModelFingerprint(config, encoder);
  const fingerprintMatches = baseFingerprint === a.fingerprint;
  if (!fingerprintMatches && !opts.allowBaseMismatch) {
    throw new AdapterError(join(adapterDir, 'adapter_config.json'), `was trained on base model ${a.fingerprint.slice(0, 12)}… (${a.source ?? 'unknown source'}), ` +
      `but ${base} has fingerprint ${baseFingerprint.slice(0, 12)}…; pass allowBaseMismatch to merge anyway`);
  }
  applyAdapterWeights(config, merged, weights, join(adapterDir, 'heads.safetensors'));

  const tokenizerFiles: string[] = [];
  for (const f of TOKENIZER_FILES) if (await stat(join(dir, f)).then((s) => s.isFile(), () => false)) tokenizerFiles.push(join(dir, f));
  await writeMergedModel(outDir, config, merged, tokenizerFiles, mergedMetadata(adapter.strategy, adapter.baseModel.fingerprint));
  return { outDir, adapter, baseFingerprint, fingerprintMatches };
}
