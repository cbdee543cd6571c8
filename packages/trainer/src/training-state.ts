// The content of a resumable training checkpoint, and its encoding as files for a CheckpointSink:
//   state.json              step, data cursor, best metric so far, evaluation history, run signature
//   trainable.safetensors   every trainable variable (internal layout), by trainable name
//   optimizer.safetensors   AdamW moments, keys m/<name> and v/<name>
// The best-so-far weights are a second checkpoint ("best") with state.json and trainable.safetensors only.
import { createHash } from 'node:crypto';
import type { StateDict } from '@hifi/engine';
import { decodeSafetensors, encodeSafetensors } from '@hifi/engine';
import type { BatchCursor, MetricResult } from '@hifi/data';
import { CorruptCheckpointError } from './errors.ts';

export const TRAINING_STATE_SCHEMA_VERSION = 1;
export const STATE_FILE = 'state.json';
export const TRAINABLE_FILE = 'trainable.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const BEST_CHECKPOINT = 'best';

/** One evaluation during training. */
export interface EvalRecord {
  step: number;
  /** Fractional epochs done at that step. */
  epoch: number;
  /** Mean training loss over the steps since the previous evaluation. */
  trainLoss: number;
  evalLoss: number;
  metrics: MetricResult;
  seconds: number;
}

export interface BestSoFar {
  step: number;
  /** Value of the task's main metric. */
  value: number;
  metrics: MetricResult;
}

export interface TrainingState {
  schemaVersion: typeof TRAINING_STATE_SCHEMA_VERSION;
  kind: 'hifi-training-state';
  /** Optimiser steps completed. */
  step: number;
  totalSteps: number;
  /** Position of the next training batch. */
  cursor: BatchCursor;
  best: BestSoFar | null;
  evalsWithoutImprovement: number;
  history: EvalRecord[];
  /** Training loss summed since the last evaluation, and the number of steps in it. */
  lossSinceEval: { sum: number; steps: number };
  /** The evaluation due after `step` had not finished when the run stopped: a resumed run does it first. */
  evalPending?: boolean;
  /** Wall-clock seconds of training before this checkpoint (all sessions). */
  trainSeconds: number;
  /** Hash of everything that must be equal for a resumed run to continue this one (see runSignature). */
  runSignature: string;
  /** Trainable tensors and their shapes, for a readable error on mismatch. */
  trainable: { name: string; shape: number[] }[];
}

/** sha256 of canonical JSON: equal settings give equal signatures whatever the key order. */
export function runSignature(parts: unknown): string {
  const canonical = JSON.stringify(parts, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
  return createHash('sha256').update(canonical).digest('hex');
}

export function checkpointNameForStep(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

export function stepOfCheckpointName(name: string): number | undefined {
  const m = /^step-(\d{8,})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

const encodeJson = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);

export function encodeCheckpoint(state: TrainingState, trainable: StateDict, moments?: StateDict): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  files.set(TRAINABLE_FILE, encodeSafetensors(trainable, { format: 'hifi-trainable', step: String(state.step) }));
  if (moments) files.set(OPTIMIZER_FILE, encodeSafetensors(moments, { format: 'hifi-adamw', step: String(state.step) }));
  // state.json last in the map: a reader that finds it knows the rest was written with it.
  files.set(STATE_FILE, encodeJson(state));
  return files;
}

export interface DecodedCheckpoint {
  state: TrainingState;
  trainable: StateDict;
  moments?: StateDict;
}

/** Parses the files of a checkpoint; `source` (e.g. the checkpoint name) names it in errors. */
export function decodeCheckpoint(files: ReadonlyMap<string, Uint8Array>, source: string, opts: { requireOptimizer?: boolean } = {}): DecodedCheckpoint {
  const where = (f: string) => `${source}/${f}`;
  const stateBytes = files.get(STATE_FILE);
  if (!stateBytes) throw new CorruptCheckpointError(where(STATE_FILE), 'missing');
  let state: TrainingState;
  try {
    state = JSON.parse(new TextDecoder().decode(stateBytes)) as TrainingState;
  } catch (err) {
    throw new CorruptCheckpointError(where(STATE_FILE), `not valid JSON (${(err as Error).message})`);
  }
  if (state?.kind !== 'hifi-training-state') throw new CorruptCheckpointError(where(STATE_FILE), `kind is ${JSON.stringify(state?.kind)}, expected "hifi-training-state"`);
  if (state.schemaVersion !== TRAINING_STATE_SCHEMA_VERSION) throw new CorruptCheckpointError(where(STATE_FILE), `schemaVersion ${state.schemaVersion} is not supported (expected ${TRAINING_STATE_SCHEMA_VERSION})`);
  for (const k of ['step', 'totalSteps', 'evalsWithoutImprovement', 'trainSeconds'] as const) {
    if (typeof state[k] !== 'number' || !Number.isFinite(state[k])) throw new CorruptCheckpointError(where(STATE_FILE), `field "${k}" must be a number`);
  }
  if (typeof state.cursor !== 'object' || state.cursor === null) throw new CorruptCheckpointError(where(STATE_FILE), 'field "cursor" is missing');
  if (typeof state.runSignature !== 'string') throw new CorruptCheckpointError(where(STATE_FILE), 'field "runSignature" is missing');
  const trainableBytes = files.get(TRAINABLE_FILE);
  if (!trainableBytes) throw new CorruptCheckpointError(where(TRAINABLE_FILE), 'missing');
  const trainable = decodeSafetensors(trainableBytes, where(TRAINABLE_FILE)).tensors;
  const optBytes = files.get(OPTIMIZER_FILE);
  if (!optBytes && opts.requireOptimizer) throw new CorruptCheckpointError(where(OPTIMIZER_FILE), 'missing');
  const moments = optBytes ? decodeSafetensors(optBytes, where(OPTIMIZER_FILE)).tensors : undefined;
  return { state, trainable, moments };
}
