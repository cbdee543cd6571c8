// The adapter export: only what training changed, in Hugging Face layout, plus a JSON description.
//
//   heads.safetensors   hifi.layer.{l}.head.{h}.{query|key|value}.weight   [d, hidden]  rows h·d…(h+1)·d of the HF weight
//                       hifi.layer.{l}.head.{h}.{query|key|value}.bias     [d]
//                       hifi.layer.{l}.head.{h}.output.weight              [hidden, d]  columns h·d…(h+1)·d of
//                                                                           attention.output.dense.weight (if trained)
//                       <checkpoint key>                                   whole tensors: the task head (pooler,
//                                                                           classifier), or every tensor under `full`
//   adapter_config.json  see AdapterConfig
// (d = head size.) packages/trainer/README.md documents the scheme.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type HostTensor, type ModelConfig, type StateDict } from '@hifi/engine';
import { AdapterError } from './errors.ts';
import { adapterSliceKey, headMaskFromHeads, headSlices, parseAdapterSliceKey, projectionKey, type HeadRef } from './head-slices.ts';
import { isTaskHeadKey } from './trainable.ts';
import { writeFileAtomic } from './checkpoint-sink.ts';

export const ADAPTER_WEIGHTS_FILE = 'heads.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_SCHEMA_VERSION = 1;
export const ADAPTER_KEY_SCHEME = 'hifi-heads-v1';

export interface AdapterConfig {
  schemaVersion: typeof ADAPTER_SCHEMA_VERSION;
  format: 'hifi-adapter';
  keyScheme: typeof ADAPTER_KEY_SCHEME;
  baseModel: {
    /** baseModelFingerprint of the model the adapter was trained from. */
    fingerprint: string;
    /** Where it was loaded from, as given (informational). */
    source: string | null;
    modelType: ModelConfig['modelType'];
    numLayers: number;
    numHeads: number;
    headDim: number;
    hiddenSize: number;
  };
  /** Selection strategy (hifi, random, richness, correlation, all, full). */
  strategy: string;
  /** 'heads': slices + task head; 'full': every tensor. */
  mode: 'heads' | 'full';
  heads: [number, number][];
  /** [numLayers][numHeads], 1 = trained. */
  headMask: number[][];
  trainOutputProjection: boolean;
  /** Keys of the whole tensors in heads.safetensors. */
  wholeTensors: string[];
  task: { name: string; taskType: 'classification' | 'regression'; metrics: string[]; mainMetric: string } | null;
  numLabels: number;
  problemType: ModelConfig['problemType'];
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  hyperparameters: Record<string, unknown>;
  trainableParameters: number;
  totalParameters: number;
  createdAt: string;
}

/** What the caller knows beyond the model: provenance and training settings. */
export interface AdapterInfo {
  baseFingerprint: string;
  baseSource?: string | null;
  strategy: string;
  mode: 'heads' | 'full';
  heads: readonly HeadRef[];
  trainOutputProjection: boolean;
  task?: AdapterConfig['task'];
  hyperparameters?: Record<string, unknown>;
  trainableParameters: number;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Cuts a head's block out of an HF-layout tensor (rows of Q/K/V weights, entries of biases, columns of output). */
function cutHead(t: HostTensor, projection: string, kind: string, start: number, d: number): HostTensor {
  if (kind === 'bias') return { shape: [d], data: t.data.slice(start, start + d) };
  const [rows, cols] = t.shape;
  if (projection !== 'output') return { shape: [d, cols], data: t.data.slice(start * cols, (start + d) * cols) };
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * cols + start, r * cols + start + d), r * d);
  return { shape: [rows, d], data: out };
}

/** Writes a head's block into an HF-layout tensor (in place): the inverse of cutHead. */
function pasteHead(t: HostTensor, block: HostTensor, projection: string, kind: string, start: number, d: number): void {
  if (kind === 'bias') { t.data.set(block.data, start); return; }
  const [rows, cols] = t.shape;
  if (projection !== 'output') { t.data.set(block.data, start * cols); return; }
  for (let r = 0; r < rows; r++) t.data.set(block.data.subarray(r * d, (r + 1) * d), r * cols + start);
}

/**
 * The adapter tensors of a trained model's state dict (HF layout): the heads' blocks and the whole tensors
 * (task head; all tensors under `full`).
 */
export function adapterWeights(config: ModelConfig, trained: StateDict, spec: { mode: 'heads' | 'full'; heads: readonly HeadRef[]; trainOutputProjection: boolean }): StateDict {
  const out: StateDict = new Map();
  if (spec.mode === 'full') {
    for (const [k, t] of trained) out.set(k, t);
    return out;
  }
  for (const s of headSlices(config, spec.heads, { trainOutputProjection: spec.trainOutputProjection })) {
    const t = trained.get(s.key);
    if (!t) throw new Error(`adapterWeights: state dict lacks ${s.key}`);
    out.set(adapterSliceKey(s), cutHead(t, s.projection, s.kind, s.start, s.size));
  }
  for (const [k, t] of trained) if (isTaskHeadKey(k)) out.set(k, t);
  return out;
}

export function buildAdapterConfig(config: ModelConfig, info: AdapterInfo, totalParameters: number, wholeTensors: string[]): AdapterConfig {
  return {
    schemaVersion: ADAPTER_SCHEMA_VERSION,
    format: 'hifi-adapter',
    keyScheme: ADAPTER_KEY_SCHEME,
    baseModel: {
      fingerprint: info.baseFingerprint, source: info.baseSource ?? null, modelType: config.modelType,
      numLayers: config.numLayers, numHeads: config.numHeads, headDim: config.headDim, hiddenSize: config.hiddenSize,
    },
    strategy: info.strategy,
    mode: info.mode,
    heads: info.heads.map(([l, h]) => [l, h]),
    headMask: info.mode === 'full' ? headMaskFromHeads(config, allHeads(config)) : headMaskFromHeads(config, info.heads),
    trainOutputProjection: info.trainOutputProjection,
    wholeTensors: [...wholeTensors].sort(),
    task: info.task ?? null,
    numLabels: config.numLabels,
    problemType: config.problemType,
    id2label: Object.fromEntries(Object.entries(config.id2label).map(([k, v]) => [String(k), v])),
    label2id: { ...config.label2id },
    hyperparameters: info.hyperparameters ?? {},
    trainableParameters: info.trainableParameters,
    totalParameters,
    createdAt: new Date().toISOString(),
  };
}

function allHeads(config: ModelConfig): HeadRef[] {
  const out: HeadRef[] = [];
  for (let l = 0; l < config.numLayers; l++) for (let h = 0; h < config.numHeads; h++) out.push([l, h]);
  return out;
}

/** Writes heads.safetensors and adapter_config.json into `dir` (each file atomically). */
export async function writeAdapter(dir: string, config: ModelConfig, trained: StateDict, info: AdapterInfo): Promise<AdapterConfig> {
  const weights = adapterWeights(config, trained, info);
  const whole = [...weights.keys()].filter((k) => !parseAdapterSliceKey(k));
  let total = 0;
  for (const t of trained.values()) total += sizeOf(t.shape);
  const adapterConfig = buildAdapterConfig(config, info, total, whole);
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), weights, { format: 'hifi-adapter', keyScheme: ADAPTER_KEY_SCHEME });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(adapterConfig, null, 2)}\n`);
  return adapterConfig;
}

/** Reads and checks an adapter directory. */
export async function readAdapter(dir: string): Promise<{ config: AdapterConfig; weights: StateDict }> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AdapterError(configPath, e.code === 'ENOENT' ? 'file not found (an adapter directory holds adapter_config.json and heads.safetensors)' : `not valid JSON (${e.message})`);
  }
  const c = json as Partial<AdapterConfig>;
  if (c?.format !== 'hifi-adapter') throw new AdapterError(configPath, `format is ${JSON.stringify(c?.format)}, expected "hifi-adapter"`);
  if (c.schemaVersion !== ADAPTER_SCHEMA_VERSION) throw new AdapterError(configPath, `schemaVersion ${c.schemaVersion} is not supported (expected ${ADAPTER_SCHEMA_VERSION})`);
  if (c.keyScheme !== ADAPTER_KEY_SCHEME) throw new AdapterError(configPath, `keyScheme ${JSON.stringify(c.keyScheme)} is not supported (expected ${ADAPTER_KEY_SCHEME})`);
  if (typeof c.baseModel?.fingerprint !== 'string') throw new AdapterError(configPath, 'baseModel.fingerprint is missing');
  if (c.mode !== 'heads' && c.mode !== 'full') throw new AdapterError(configPath, `mode must be "heads" or "full", got ${JSON.stringify(c.mode)}`);
  if (!c.id2label || typeof c.id2label !== 'object' || !Number.isInteger(c.numLabels)) throw new AdapterError(configPath, 'id2label / numLabels missing');
  if (!Array.isArray(c.heads)) throw new AdapterError(configPath, 'heads must be an array of [layer, head]');
  const { tensors } = await readSafetensors(join(dir, ADAPTER_WEIGHTS_FILE)).catch((err: Error) => {
    throw new AdapterError(join(dir, ADAPTER_WEIGHTS_FILE), err.message);
  });
  return { config: c as AdapterConfig, weights: tensors };
}

/** The labels of an adapter, as withLabels wants them. */
export function adapterLabels(config: AdapterConfig): string[] | 'regression' {
  if (config.problemType === 'regression' || config.numLabels === 1) return 'regression';
  return Array.from({ length: config.numLabels }, (_, i) => config.id2label[String(i)] ?? `LABEL_${i}`);
}

/**
 * Writes an adapter's tensors into a state dict (HF layout, canonical keys), in place. Every adapter key must be
 * a head block of the right shape or a tensor the state dict has with the same shape; `source` names the adapter.
 */
export function applyAdapterWeights(config: ModelConfig, target: StateDict, adapter: StateDict, source: string): void {
  const d = config.headDim;
  const C = config.hiddenSize;
  for (const [key, t] of adapter) {
    const slice = parseAdapterSliceKey(key);
    if (slice) {
      const { layer, head, projection, kind } = slice;
      if (layer >= config.numLayers || head >= config.numHeads) throw new AdapterError(source, `${key}: head [${layer}, ${head}] is outside the base model (${config.numLayers} layers × ${config.numHeads} heads)`);
      if (projection === 'output' && kind === 'bias') throw new AdapterError(source, `${key}: the output projection bias is not owned by a head`);
      const expected = kind === 'bias' ? [d] : projection === 'output' ? [C, d] : [d, C];
      if (t.shape.join() !== expected.join()) throw new AdapterError(source, `${key}: shape [${t.shape}], expected [${expected}]`);
      const full = target.get(projectionKey(config, layer, projection, kind));
      if (!full) throw new AdapterError(source, `${key}: the base model has no ${projectionKey(config, layer, projection, kind)}`);
      pasteHead(full, t, projection, kind, head * d, d);
      continue;
    }
    const base = target.get(key);
    if (!base) throw new AdapterError(source, `${key}: not a head block (${ADAPTER_KEY_SCHEME}) and not a parameter of the model`);
    if (base.shape.join() !== t.shape.join()) throw new AdapterError(source, `${key}: shape [${t.shape}], the model's is [${base.shape}]`);
    target.set(key, { shape: [...t.shape], data: new Float32Array(t.data) });
  }
}
