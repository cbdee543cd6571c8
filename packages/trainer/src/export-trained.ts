// Exports after training: the adapter (trained slices + task head) and the merged checkpoint, from one read of the
// committed model's parameters.
import type { EncoderModel } from '@hifi/engine';
import { writeAdapter, type AdapterConfig, type AdapterInfo } from './adapter.ts';
import { mergedMetadata, writeMergedModel } from './merged-export.ts';

export interface ExportOptions extends AdapterInfo {
  /** Write the adapter here (heads.safetensors + adapter_config.json). */
  adapterDir?: string;
  /** Write the merged Hugging Face checkpoint here. */
  mergedDir?: string;
  /** Tokenizer files to copy next to the merged weights. */
  tokenizerFiles: readonly string[];
}

/** `model` must hold the trained weights (TrainableSet.commit() done). */
export async function exportTrainedModel(model: EncoderModel, opts: ExportOptions): Promise<{ adapter: AdapterConfig | null; mergedDir: string | null }> {
  const state = model.stateDict();
  const adapter = opts.adapterDir ? await writeAdapter(opts.adapterDir, model.config, state, opts) : null;
  if (opts.mergedDir) await writeMergedModel(opts.mergedDir, model.config, state, opts.tokenizerFiles, mergedMetadata(opts.strategy, opts.baseFingerprint));
  return { adapter, mergedDir: opts.mergedDir ?? null };
}
