// The training loop: epochs of batches in a seeded order, periodic evaluation with the task's metrics, the best
// weights kept by the main metric, early stopping, checkpoints that resume exactly, and a cooperative stop.
//
// Exact resume: everything a step depends on is either saved (trainable tensors, AdamW moments and step count,
// the data cursor, best-so-far, history) or a pure function of (seed, step) (dropout masks, the batch plan of an
// epoch, the learning rate). A checkpoint is written after step k (and its evaluation, if any); a resumed run
// starts at step k + 1 and performs the same arithmetic as an uninterrupted one.
import { TrainBatchStream, type MetricSpec, type TokenizedExample } from '@hifi/data';
import type { StateDict } from '@hifi/engine';
import type { CheckpointSink } from './checkpoint-sink.ts';
import { CorruptCheckpointError, TrainingAbortedError, TrainingConfigError } from './errors.ts';
import type { TrainerLogger, TrainingEvent, TrainingProgress } from './events.ts';
import { evaluate } from './evaluate.ts';
import type { Hyperparameters } from './hyperparameters.ts';
import type { Trainer } from './trainer.ts';
import {
  BEST_CHECKPOINT, checkpointNameForStep, decodeCheckpoint, encodeCheckpoint, runSignature, stepOfCheckpointName,
  TRAINING_STATE_SCHEMA_VERSION, type BestSoFar, type EvalRecord, type TrainingState,
} from './training-state.ts';

export interface TrainLoopOptions {
  trainer: Trainer;
  train: readonly TokenizedExample[];
  /** Labelled evaluation examples; without them there is no evaluation, best checkpoint or early stopping. */
  eval?: readonly TokenizedExample[];
  padId: number;
  numLabels: number;
  metrics: MetricSpec;
  /** Anything else a resumed run must share with the original (base model fingerprint, task, …). */
  identity?: unknown;
  checkpointSink?: CheckpointSink;
  /** 'latest' (the newest step checkpoint, if any) or a checkpoint name. */
  resumeFrom?: string;
  signal?: AbortSignal;
  onProgress?: (p: TrainingProgress) => void;
  onEvent?: (e: TrainingEvent) => void;
  logger?: TrainerLogger;
}

export interface TrainResult {
  steps: number;
  totalSteps: number;
  epochs: number;
  batchesPerEpoch: number;
  best: BestSoFar | null;
  /** The evaluation the exported weights correspond to (the best one when restoreBest, else the last). */
  finalEval: EvalRecord | null;
  history: EvalRecord[];
  stoppedEarly: boolean;
  resumedFrom: string | null;
  trainSeconds: number;
  /** Mean seconds per optimiser step in this session. */
  secondsPerStep: number;
}

/** The hyperparameters that change the arithmetic of a run (a resumed run must use the same ones). */
function resultAffecting(hp: Hyperparameters): Partial<Hyperparameters> {
  const { checkpointInterval: _a, checkpointMinutes: _b, keepCheckpoints: _c, restoreBest: _d, evalBatchSize: _e, ...rest } = hp;
  return rest;
}

export function totalStepsFor(hp: Hyperparameters, batchesPerEpoch: number): number {
  const byEpochs = hp.epochs > 0 ? Math.ceil(hp.epochs * batchesPerEpoch) : Number.POSITIVE_INFINITY;
  const bySteps = hp.maxSteps > 0 ? hp.maxSteps : Number.POSITIVE_INFINITY;
  return Math.min(byEpochs, bySteps);
}

export async function trainLoop(opts: TrainLoopOptions): Promise<TrainResult> {
  const { trainer, signal, checkpointSink: sink } = opts;
  const hp = trainer.hp;
  const trainable = trainer.trainable;
  const emit = (e: TrainingEvent) => opts.onEvent?.(e);
  if (opts.train.length === 0) throw new TrainingConfigError('train', 'no training examples');
  const evalSet = opts.eval && opts.eval.length > 0 ? (hp.maxEvalExamples > 0 ? opts.eval.slice(0, hp.maxEvalExamples) : opts.eval) : undefined;
  const signature = runSignature({
    hp: resultAffecting(hp),
    mode: trainable.mode,
    heads: trainable.heads,
    trainOutputProjection: trainable.trainOutputProjection,
    numTrain: opts.train.length,
    numEval: evalSet?.length ?? 0,
    identity: opts.identity ?? null,
  });
  const trainableShapes = trainable.variables.map((v) => ({ name: v.name, shape: [...v.variable.shape] }));

  // ---- state, fresh or resumed
  let step = 0;
  let best: BestSoFar | null = null;
  let bestWeights: StateDict | null = null;
  let evalsWithoutImprovement = 0;
  let history: EvalRecord[] = [];
  let lossSinceEval = { sum: 0, steps: 0 };
  let priorSeconds = 0;
  let resumedFrom: string | null = null;
  let cursor;
  let resumedEvalPending = false;
  if (opts.resumeFrom !== undefined) {
    if (!sink) throw new TrainingConfigError('resumeFrom', 'resuming needs a checkpoint sink');
    const name = opts.resumeFrom === 'latest' ? await latestCheckpoint(sink) : opts.resumeFrom;
    if (name) {
      const files = await sink.read(name);
      if (!files) throw new CorruptCheckpointError(name, 'no such checkpoint');
      const ck = decodeCheckpoint(files, name, { requireOptimizer: true });
      if (ck.state.runSignature !== signature) {
        throw new TrainingConfigError('resumeFrom', `checkpoint ${name} was written by a run with other settings (hyperparameters, heads, data or model differ); start a new run or use the same settings`);
      }
      trainable.loadState(ck.trainable, `${name}/trainable.safetensors`);
      trainer.optimizer.loadState(ck.state.step, ck.moments!, `${name}/optimizer.safetensors`);
      ({ step, best, evalsWithoutImprovement, history, lossSinceEval } = ck.state);
      priorSeconds = ck.state.trainSeconds;
      cursor = ck.state.cursor;
      resumedEvalPending = ck.state.evalPending === true && evalSet !== undefined;
      if (best && hp.restoreBest) {
        const bestFiles = await sink.read(BEST_CHECKPOINT);
        if (!bestFiles) throw new CorruptCheckpointError(BEST_CHECKPOINT, `missing, but ${name} records a best evaluation at step ${best.step}`);
        const b = decodeCheckpoint(bestFiles, BEST_CHECKPOINT);
        if (b.state.step !== best.step) throw new CorruptCheckpointError(BEST_CHECKPOINT, `holds step ${b.state.step}, ${name} expects step ${best.step}`);
        bestWeights = b.trainable;
      }
      resumedFrom = name;
      emit({ type: 'resumed', checkpoint: name, step });
      opts.logger?.info({ checkpoint: name, step }, `resumed from ${name} at step ${step}`);
    } else {
      opts.logger?.info({}, 'no checkpoint to resume from; starting fresh');
    }
  }

  const stream = new TrainBatchStream(opts.train, { batchSize: hp.batchSize, seed: hp.seed, padId: opts.padId, taskType: trainer.taskType }, cursor);
  const batchesPerEpoch = stream.batchesPerEpoch;
  const totalSteps = totalStepsFor(hp, batchesPerEpoch);
  if (!Number.isFinite(totalSteps)) throw new TrainingConfigError('hyperparameters.epochs', 'no stopping point: set epochs or maxSteps');
  const evalEvery = hp.evalInterval > 0 ? hp.evalInterval : batchesPerEpoch;
  const sessionStart = performance.now();
  const sessionStartStep = step;
  let lastCheckpointAt = performance.now();
  let lastEvalSeconds = 0;
  let stoppedEarly = false;
  const trainSeconds = () => priorSeconds + (performance.now() - sessionStart) / 1000;
  const lrShown = (lr: Record<string, number>) => (trainable.mode === 'full' ? lr.encoder : trainable.heads.length > 0 ? lr.heads : lr.taskHead);

  const stateNow = (): TrainingState => ({
    schemaVersion: TRAINING_STATE_SCHEMA_VERSION, kind: 'hifi-training-state', step, totalSteps, cursor: stream.cursor,
    best, evalsWithoutImprovement, history, lossSinceEval, evalPending, trainSeconds: trainSeconds(), runSignature: signature, trainable: trainableShapes,
  });
  const saveCheckpoint = async (reason: 'interval' | 'time' | 'eval' | 'abort'): Promise<string | null> => {
    if (!sink) return null;
    const name = checkpointNameForStep(step);
    await sink.write(name, encodeCheckpoint(stateNow(), await trainable.readState(), await trainer.optimizer.readState()));
    lastCheckpointAt = performance.now();
    emit({ type: 'checkpoint', name, step, reason });
    const old = (await sink.list()).filter((n) => stepOfCheckpointName(n) !== undefined).sort();
    for (const n of old.slice(0, Math.max(0, old.length - hp.keepCheckpoints))) await sink.delete(n);
    return name;
  };

  const runEval = async (): Promise<boolean> => {
    if (!evalSet) return false;
    const r = await evaluate((b) => trainer.predict(b), evalSet, {
      batchSize: hp.evalBatchSize, padId: opts.padId, taskType: trainer.taskType, numLabels: opts.numLabels, metrics: opts.metrics, signal,
    });
    lastEvalSeconds = r.seconds;
    const record: EvalRecord = {
      step, epoch: step / batchesPerEpoch, trainLoss: lossSinceEval.steps > 0 ? lossSinceEval.sum / lossSinceEval.steps : Number.NaN,
      evalLoss: r.loss, metrics: r.metrics, seconds: r.seconds,
    };
    lossSinceEval = { sum: 0, steps: 0 };
    history = [...history, record];
    const improved = best === null || r.metrics.main > best.value;
    if (improved) {
      best = { step, value: r.metrics.main, metrics: r.metrics };
      evalsWithoutImprovement = 0;
      const weights = await trainable.readState();
      bestWeights = hp.restoreBest ? weights : null;
      if (sink) {
        const state = stateNow();
        await sink.write(BEST_CHECKPOINT, encodeCheckpoint(state, weights));
        emit({ type: 'checkpoint', name: BEST_CHECKPOINT, step, reason: 'best' });
      }
    } else {
      evalsWithoutImprovement++;
    }
    emit({ type: 'eval', record, improved });
    opts.logger?.info({ step, evalLoss: r.loss, metrics: r.metrics, improved }, `eval at step ${step}: main ${r.metrics.main.toFixed(4)}`);
    return true;
  };

  let last: { loss: number; lr: number } | null = null;
  // An evaluation interrupted by an abort is recorded as pending in the checkpoint and runs first on resume.
  let evalPending = resumedEvalPending;
  for (;;) {
    if (!evalPending) {
      if (step >= totalSteps) break;
      if (signal?.aborted) {
        const name = await saveCheckpoint('abort');
        throw new TrainingAbortedError(step, name);
      }
      const { batch } = stream.next();
      const r = await trainer.step(batch, step + 1, totalSteps);
      step++;
      if (!Number.isFinite(r.loss)) throw new TrainingConfigError('hyperparameters', `the loss became ${r.loss} at step ${step}; lower the learning rates`);
      lossSinceEval = { sum: lossSinceEval.sum + r.loss, steps: lossSinceEval.steps + 1 };
      last = { loss: r.loss, lr: lrShown(r.lr) };
    }

    let evaluated = false;
    if (evalPending || step % evalEvery === 0 || step === totalSteps) {
      evalPending = true;
      try {
        evaluated = await runEval();
      } catch (err) {
        if (!signal?.aborted) throw err;
        const name = await saveCheckpoint('abort');
        throw new TrainingAbortedError(step, name);
      }
      evalPending = false;
    }
    const stepsDone = Math.max(1, step - sessionStartStep);
    const perStep = (performance.now() - sessionStart) / 1000 / stepsDone;
    const evalsLeft = evalSet ? Math.floor(totalSteps / evalEvery) - Math.floor(step / evalEvery) : 0;
    opts.onProgress?.({
      stage: 'train', step, totalSteps, epoch: step / batchesPerEpoch, loss: last?.loss ?? null, lr: last?.lr ?? null,
      metrics: history.at(-1)?.metrics, etaSeconds: perStep * (totalSteps - step) + evalsLeft * lastEvalSeconds,
    });
    if (evaluated && hp.earlyStoppingPatience > 0 && evalsWithoutImprovement >= hp.earlyStoppingPatience) {
      stoppedEarly = true;
      emit({ type: 'early-stop', step, patience: hp.earlyStoppingPatience });
      opts.logger?.info({ step }, `early stop at step ${step}: ${evalsWithoutImprovement} evaluations without improvement`);
      break;
    }
    if (step < totalSteps) {
      const byInterval = hp.checkpointInterval > 0 && step % hp.checkpointInterval === 0;
      const byTime = hp.checkpointMinutes > 0 && performance.now() - lastCheckpointAt >= hp.checkpointMinutes * 60_000;
      if (evaluated || byInterval || byTime) await saveCheckpoint(evaluated ? 'eval' : byInterval ? 'interval' : 'time');
    }
    await new Promise(setImmediate);
  }

  let finalEval: EvalRecord | null = history.at(-1) ?? null;
  if (hp.restoreBest && best && bestWeights) {
    const bestStep = (best as BestSoFar).step;
    if (bestStep !== step) trainable.loadState(bestWeights, 'best weights');
    finalEval = history.find((h) => h.step === bestStep) ?? finalEval;
  }
  const sessionSteps = step - sessionStartStep;
  return {
    steps: step, totalSteps, epochs: step / batchesPerEpoch, batchesPerEpoch, best, finalEval, history, stoppedEarly, resumedFrom,
    trainSeconds: trainSeconds(), secondsPerStep: sessionSteps > 0 ? (performance.now() - sessionStart) / 1000 / sessionSteps : 0,
  };
}

/** The newest step checkpoint in a sink, or null. */
export async function latestCheckpoint(sink: CheckpointSink): Promise<string | null> {
  const names = (await sink.list()).filter((n) => stepOfCheckpointName(n) !== undefined).sort();
  return names.at(-1) ?? null;
}
