// A Hugging Face checkpoint directory on disk: config.json plus model.safetensors (or a sharded
// model.safetensors.index.json). Reads both, and brings the tensor names to the canonical keys of the
// *ForSequenceClassification model (see normalizeKeys). Only safetensors are read; pickled PyTorch files are not.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, parseConfig } from './config.ts';
import type { ModelConfig } from './config.ts';
import { CheckpointError } from './errors.ts';
import { readSafetensors, readShardedSafetensors, SHARDED_INDEX_FILE } from './safetensors.ts';
import type { StateDict } from './types.ts';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** Weight formats we recognise but do not read, with the reason shown to the user. */
const UNSUPPORTED_WEIGHTS = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'];

export interface CheckpointFiles {
  config: string;
  /** The safetensors files read (one, or the shards). */
  weights: string[];
  /** The sharded index, when the checkpoint is sharded. */
  index?: string;
}

export interface Checkpoint {
  config: ModelConfig;
  weights: StateDict;
  files: CheckpointFiles;
}

const exists = async (path: string): Promise<boolean> => stat(path).then((s) => s.isFile(), () => false);

/** Reads and parses <dir>/config.json; errors name the file. */
export async function readConfigFile(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(path, code === 'ENOENT' ? 'file not found (a checkpoint directory needs a config.json)' : (err as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, `not valid JSON (${(err as Error).message})`);
  }
  return parseConfig(json, path);
}

/** The weights of a checkpoint directory, single-file or sharded, exactly as stored (keys not normalised). */
export async function readCheckpointWeights(dir: string): Promise<{ weights: StateDict; files: string[]; index?: string }> {
  const single = join(dir, WEIGHTS_FILE);
  if (await exists(single)) {
    const { tensors } = await readSafetensors(single);
    return { weights: tensors, files: [single] };
  }
  const index = join(dir, SHARDED_INDEX_FILE);
  if (await exists(index)) {
    const { tensors, files } = await readShardedSafetensors(index);
    return { weights: tensors, files, index };
  }
  const present: string[] = [];
  for (const name of UNSUPPORTED_WEIGHTS) if (await exists(join(dir, name))) present.push(name);
  if (present.length > 0) {
    throw new CheckpointError(dir, `has ${present.join(', ')} but no ${WEIGHTS_FILE}: only safetensors checkpoints are supported ` +
      '(pickled PyTorch/TF/Flax weights are not read); convert it, e.g. with transformers: ' +
      'AutoModel.from_pretrained(dir).save_pretrained(out, safe_serialization=True)');
  }
  throw new CheckpointError(dir, `no ${WEIGHTS_FILE} or ${SHARDED_INDEX_FILE} found`);
}

/**
 * Loads config.json and the weights of a checkpoint directory. Keys are normalised (normalizeKeys) unless
 * `normalize: false`.
 */
export async function loadCheckpointDir(dir: string, opts: { normalize?: boolean } = {}): Promise<Checkpoint> {
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat) throw new CheckpointError(dir, 'checkpoint directory not found');
  if (!dirStat.isDirectory()) throw new CheckpointError(dir, 'is not a directory');
  const configPath = join(dir, CONFIG_FILE);
  const config = await readConfigFile(configPath);
  const { weights, files, index } = await readCheckpointWeights(dir);
  return {
    config,
    weights: opts.normalize === false ? weights : normalizeKeys(config, weights, index ?? files[0]),
    files: { config: configPath, weights: files, ...(index ? { index } : {}) },
  };
}

/** Top-level module names of a base BertModel/RobertaModel (what a checkpoint without the `bert.` prefix holds). */
const BASE_MODULES = ['embeddings.', 'encoder.', 'pooler.'];

/** Legacy (TF-converted) LayerNorm names: gamma/beta → weight/bias. */
function renameLegacy(key: string): string {
  if (key.endsWith('.gamma')) return `${key.slice(0, -'.gamma'.length)}.weight`;
  if (key.endsWith('.beta')) return `${key.slice(0, -'.beta'.length)}.bias`;
  return key;
}

/**
 * Maps checkpoint keys to the canonical keys of the *ForSequenceClassification model, the way Hugging Face's
 * from_pretrained does: keys of a base model (`embeddings.*`, `encoder.*`, `pooler.*`) get the
 * `bert.`/`roberta.` prefix, legacy LayerNorm `gamma`/`beta` become `weight`/`bias`. Every other key (e.g.
 * `cls.predictions.*`, `lm_head.*`) is kept as it is, so the model reports it as unused. Tensors are not copied.
 * Two keys that map to the same name are an error (`source` names the file in it).
 */
export function normalizeKeys(config: ModelConfig, weights: StateDict, source = 'checkpoint'): StateDict {
  const prefix = `${config.modelType}.`;
  const out: StateDict = new Map();
  const origin = new Map<string, string>();
  for (const [key, tensor] of weights) {
    let k = renameLegacy(key);
    if (!k.startsWith(prefix) && BASE_MODULES.some((m) => k.startsWith(m))) k = prefix + k;
    const previous = origin.get(k);
    if (previous !== undefined) {
      throw new CheckpointError(source, `tensors "${previous}" and "${key}" both map to "${k}"; the checkpoint is ambiguous`);
    }
    origin.set(k, key);
    out.set(k, tensor);
  }
  return out;
}
