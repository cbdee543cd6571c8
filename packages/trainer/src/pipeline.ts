// runTrainingPipeline: model source + task → analysis → head selection → training → evaluation → exports.
// The CLI (`hifi train`) and the BullMQ worker both call this; it owns every tensor it creates and frees them.
//
// Output directory layout:
//   heads.json         the head report of the analysis (@hifi/hifi HeadReport)       (head strategies)
//   head_mask.json     the selected heads (@hifi/hifi HeadMaskFile)                  (head strategies)
//   heads.svg          heat map of the head scores with the selection
//   checkpoints/       resumable training checkpoints (when no other CheckpointSink is given)
//   adapter/           heads.safetensors + adapter_config.json
//   merged/            Hugging Face *ForSequenceClassification checkpoint
//   metrics.json       final metrics, history, parameter counts, timings
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  evalBatches, getTask, isGlueTask, loadCustomDataset, loadGlue, sample, deriveSeed,
  type MetricResult, type MetricSpec, type TextExample, type TokenizedExample,
} from '@hifi/data';
import { initBackend, loadPretrained, type Pretrained, type ResolveOptions } from '@hifi/engine';
import { analyzeHeads, headHeatmapSvg, type HeadAnalysis, type SelectionBudget, type SelectionStrategy } from '@hifi/hifi';
import { baseModelFingerprint } from './base-fingerprint.ts';
import { LocalCheckpointSink, writeFileAtomic, type CheckpointSink } from './checkpoint-sink.ts';
import { enableTraining } from './enable-training.ts';
import { TrainingAbortedError, TrainingConfigError } from './errors.ts';
import type { PipelineStage, TrainerLogger, TrainingEvent, TrainingProgress } from './events.ts';
import { exportTrainedModel } from './export-trained.ts';
import { normalizeHeads, type HeadRef } from './head-slices.ts';
import { resolveHyperparameters, type Hyperparameters } from './hyperparameters.ts';
import type { TaskType } from './loss.ts';
import { trainLoop, type TrainResult } from './train-loop.ts';
import { TrainableSet } from './trainable.ts';
import { Trainer } from './trainer.ts';

export type TrainingStrategy = SelectionStrategy | 'full';
/** A selection budget; a parameter budget needs no sizes here (the pipeline prices heads with the model's). */
export type PipelineBudget = Exclude<SelectionBudget, { maxTrainableParams: number }> | { maxTrainableParams: number };
export const TRAINING_STRATEGIES: readonly TrainingStrategy[] = ['hifi', 'random', 'richness', 'correlation', 'all', 'full'];

export interface TrainingPipelineSpec {
  /** A checkpoint directory or hf:org/name[@revision]. */
  model: string;
  /** "glue:NAME" (or a GLUE name), or a custom dataset file (.jsonl/.csv/.tsv), or files given explicitly. */
  task: string | { trainFile: string; validationFile?: string };
  /** GLUE data directory (default: the GLUE_DIR environment variable). */
  dataDir?: string;
  /** Default 'hifi'. */
  strategy?: TrainingStrategy;
  /** Heads to select (head strategies). Default {perLayer: 3}. A maxTrainableParams budget is priced with the model's sizes. */
  budget?: PipelineBudget;
  /** Train exactly these heads: skips analysis and selection. */
  heads?: readonly HeadRef[];
  /** Training examples the head analysis reads (a seeded sample). Default 256. */
  analysisSamples?: number;
  /** Seed of the analysis sample (independent of the training seed, so selection does not vary with it). Default 42. */
  analysisSeed?: number;
  hyperparameters?: Partial<Hyperparameters>;
  /** Where outputs go (see the top of pipeline.ts). */
  outDir: string;
  /** Which exports to write. Default both. */
  exports?: { adapter?: boolean; merged?: boolean };
  /** Options for hf: downloads and allowed local roots. */
  source?: ResolveOptions;
}

export interface PipelineOptions {
  signal?: AbortSignal;
  onProgress?: (p: TrainingProgress) => void;
  onEvent?: (e: TrainingEvent) => void;
  /** Default: LocalCheckpointSink(outDir/checkpoints). */
  checkpointSink?: CheckpointSink;
  /** 'latest' or a checkpoint name: continue an interrupted run. */
  resumeFrom?: string;
  logger?: TrainerLogger;
}

export interface PipelineMetrics {
  schemaVersion: 1;
  kind: 'hifi-training-metrics';
  model: { source: string; fingerprint: string; modelType: string; numLayers: number; numHeads: number; totalParameters: number };
  task: { name: string; taskType: TaskType; metrics: string[]; mainMetric: string; numLabels: number; trainExamples: number; evalExamples: number };
  strategy: TrainingStrategy;
  heads: [number, number][];
  trainableParameters: number;
  trainablePercent: number;
  hyperparameters: Hyperparameters;
  /** Metrics of the exported weights on the evaluation set (the best evaluation when restoreBest). */
  metrics: MetricResult | null;
  evalLoss: number | null;
  best: { step: number; value: number } | null;
  history: TrainResult['history'];
  steps: number;
  epochs: number;
  stoppedEarly: boolean;
  resumedFrom: string | null;
  backend: string;
  seconds: Record<'load' | 'analyze' | 'train' | 'export' | 'total', number>;
  secondsPerStep: number;
}

export interface PipelineResult {
  outDir: string;
  metrics: PipelineMetrics;
  heads: HeadRef[];
  adapterDir: string | null;
  mergedDir: string | null;
  analysis: HeadAnalysis | null;
}

interface LoadedTask {
  name: string;
  metrics: MetricSpec;
  taskType: TaskType;
  labels: string[] | 'regression';
  train: TextExample[];
  eval: TextExample[];
}

async function loadTask(spec: TrainingPipelineSpec, seed: number): Promise<LoadedTask> {
  const t = spec.task;
  if (typeof t === 'string' && isGlueTask(t)) {
    const task = getTask(t);
    const [train, dev] = await Promise.all([loadGlue(task, 'train', { dataDir: spec.dataDir }), loadGlue(task, 'dev', { dataDir: spec.dataDir })]);
    return {
      name: `glue:${task.name}`, metrics: task, taskType: task.taskType,
      labels: task.taskType === 'regression' ? 'regression' : [...task.labelNames],
      train: train.examples, eval: dev.examples,
    };
  }
  const files = typeof t === 'string' ? { trainFile: t } : t;
  if (typeof files.trainFile !== 'string' || files.trainFile === '') throw new TrainingConfigError('task', 'expected "glue:NAME", a dataset file, or {trainFile, validationFile?}');
  const ds = await loadCustomDataset(files.trainFile, { validationFile: files.validationFile, seed });
  return {
    name: `file:${files.trainFile}`, metrics: ds, taskType: ds.taskType,
    labels: ds.taskType === 'regression' ? 'regression' : ds.labels,
    train: ds.train, eval: ds.validation,
  };
}

function tokenize(p: Pretrained, examples: readonly TextExample[], maxLength: number): TokenizedExample[] {
  const out: TokenizedExample[] = [];
  for (const e of examples) {
    if (e.label === null) continue;
    const enc = p.tokenizer.encode(e.text, e.textPair, { maxLength });
    out.push({ inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: e.label });
  }
  return out;
}

export async function runTrainingPipeline(spec: TrainingPipelineSpec, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const t0 = performance.now();
  const seconds = { load: 0, analyze: 0, train: 0, export: 0, total: 0 };
  const strategy = spec.strategy ?? 'hifi';
  if (!TRAINING_STRATEGIES.includes(strategy)) throw new TrainingConfigError('strategy', `unknown strategy ${JSON.stringify(strategy)} (expected one of ${TRAINING_STRATEGIES.join(', ')})`);
  const hp = resolveHyperparameters(spec.hyperparameters);
  const outDir = resolve(spec.outDir);
  const { signal, logger } = opts;
  const emit = (e: TrainingEvent) => opts.onEvent?.(e);
  const stage = (s: PipelineStage, message: string) => {
    emit({ type: 'stage', stage: s, message });
    logger?.info({ stage: s }, message);
  };
  const progress = (s: PipelineStage, step: number, totalSteps: number, etaSeconds: number | null = null) =>
    opts.onProgress?.({ stage: s, step, totalSteps, epoch: 0, loss: null, lr: null, etaSeconds });

  // ---- load
  stage('load', `loading ${spec.model} and ${typeof spec.task === 'string' ? spec.task : spec.task.trainFile}`);
  progress('load', 0, 1);
  const backend = await initBackend({ logger });
  await enableTraining();
  await mkdir(outDir, { recursive: true });
  const task = await loadTask(spec, hp.seed);
  signal?.throwIfAborted();
  const p = await loadPretrained(spec.model, { ...spec.source, labels: task.labels, seed: hp.seed });
  let trainable: TrainableSet | undefined;
  let trainer: Trainer | undefined;
  try {
    if (p.report.newlyInitialized.length > 0) logger?.info({ keys: p.report.newlyInitialized }, `task head initialised fresh: ${p.report.newlyInitialized.join(', ')}`);
    const model = p.model;
    const maxLength = Math.min(hp.maxLength, p.maxLength);
    const trainTexts = hp.maxTrainExamples > 0 ? sample(task.train, hp.maxTrainExamples, deriveSeed(hp.seed, 1)) : task.train;
    const evalTexts = hp.maxEvalExamples > 0 ? task.eval.slice(0, hp.maxEvalExamples) : task.eval;
    const train = tokenize(p, trainTexts, maxLength);
    const evalSet = tokenize(p, evalTexts, maxLength);
    if (train.length === 0) throw new TrainingConfigError('task', `${task.name} has no labelled training examples`);
    const fingerprint = baseModelFingerprint(model.config, model.stateDict());
    const totalParameters = model.numParams();
    seconds.load = (performance.now() - t0) / 1000;
    progress('load', 1, 1);

    // ---- analyze and select
    let heads: HeadRef[] = [];
    let analysis: HeadAnalysis | null = null;
    if (strategy !== 'full') {
      if (spec.heads) {
        heads = normalizeHeads(model.config, spec.heads, 'heads');
        stage('select', `training the ${heads.length} given heads`);
      } else {
        const ta = performance.now();
        const n = spec.analysisSamples ?? 256;
        const analysisExamples = tokenize(p, sample(task.train, n, spec.analysisSeed ?? 42), maxLength);
        // Sorted by length so each batch pads to a similar length (the statistics are a mean over examples: order-free).
        const byLength = [...analysisExamples].sort((x, y) => x.inputIds.length - y.inputIds.length);
        const batches = [...evalBatches(byLength, { batchSize: 32, padId: model.config.padTokenId, taskType: task.taskType })];
        stage('analyze', `analysing ${model.config.numLayers}×${model.config.numHeads} heads on ${analysisExamples.length} examples`);
        // A parameter budget is priced with this model's sizes.
        const budget: SelectionBudget | undefined = spec.budget && 'maxTrainableParams' in spec.budget
          ? { maxTrainableParams: spec.budget.maxTrainableParams, hiddenSize: model.config.hiddenSize, headDim: model.config.headDim, trainOutputProjection: hp.trainOutputProjection }
          : spec.budget;
        analysis = await analyzeHeads(model, batches, {
          strategy, budget, seed: hp.seed, modelFingerprint: fingerprint, signal,
          onProgress: (a) => progress('analyze', a.batches, batches.length, a.batches > 0 ? ((performance.now() - ta) / 1000 / a.batches) * (batches.length - a.batches) : null),
        });
        heads = normalizeHeads(model.config, analysis.selection.selected, 'selection');
        for (const w of analysis.selection.warnings) emit({ type: 'warning', message: w });
        await writeFileAtomic(join(outDir, 'heads.json'), `${JSON.stringify(analysis.report, null, 2)}\n`);
        await writeFileAtomic(join(outDir, 'head_mask.json'), `${JSON.stringify(analysis.mask, null, 2)}\n`);
        await writeFileAtomic(join(outDir, 'heads.svg'), headHeatmapSvg({
          scores: analysis.ranking.scores, mask: analysis.mask.mask, title: `${strategy} head scores (${task.name})`,
        }));
        seconds.analyze = (performance.now() - ta) / 1000;
        stage('select', `selected ${heads.length} heads (${strategy}): ${heads.map(([l, h]) => `${l}.${h}`).join(' ')}`);
      }
    }
    signal?.throwIfAborted();

    // ---- train
    const tt = performance.now();
    trainable = TrainableSet.create(model, strategy === 'full' ? { mode: 'full' } : { mode: 'heads', heads, trainOutputProjection: hp.trainOutputProjection });
    trainer = new Trainer(model, trainable, hp, task.taskType);
    const trainableParameters = trainable.numParams();
    stage('train', `training ${trainableParameters.toLocaleString('en-US')} of ${totalParameters.toLocaleString('en-US')} parameters ` +
      `(${((100 * trainableParameters) / totalParameters).toFixed(3)}%) on ${train.length} examples, evaluating on ${evalSet.length}`);
    const sink = opts.checkpointSink ?? new LocalCheckpointSink(join(outDir, 'checkpoints'));
    const result = await trainLoop({
      trainer, train, eval: evalSet, padId: model.config.padTokenId, numLabels: model.config.numLabels, metrics: task.metrics,
      identity: { model: fingerprint, task: task.name, strategy, maxLength },
      checkpointSink: sink, resumeFrom: opts.resumeFrom, signal, onProgress: opts.onProgress, onEvent: opts.onEvent, logger,
    });
    seconds.train = (performance.now() - tt) / 1000;
    trainer.dispose();
    trainer = undefined;
    trainable.commit();
    trainable = undefined;

    // ---- export
    const te = performance.now();
    const wantAdapter = spec.exports?.adapter ?? true;
    const wantMerged = spec.exports?.merged ?? true;
    stage('export', `writing ${[wantAdapter && 'adapter/', wantMerged && 'merged/'].filter(Boolean).join(' and ') || 'metrics'} in ${outDir}`);
    const adapterDir = wantAdapter ? join(outDir, 'adapter') : null;
    const mergedDir = wantMerged ? join(outDir, 'merged') : null;
    await exportTrainedModel(model, {
      adapterDir: adapterDir ?? undefined, mergedDir: mergedDir ?? undefined, tokenizerFiles: p.tokenizer.files,
      baseFingerprint: fingerprint, baseSource: spec.model, strategy, mode: strategy === 'full' ? 'full' : 'heads', heads,
      trainOutputProjection: hp.trainOutputProjection,
      task: { name: task.name, taskType: task.taskType, metrics: [...task.metrics.metrics], mainMetric: task.metrics.mainMetric },
      hyperparameters: { ...hp }, trainableParameters,
    });
    seconds.export = (performance.now() - te) / 1000;
    seconds.total = (performance.now() - t0) / 1000;

    const metrics: PipelineMetrics = {
      schemaVersion: 1, kind: 'hifi-training-metrics',
      model: { source: spec.model, fingerprint, modelType: model.config.modelType, numLayers: model.config.numLayers, numHeads: model.config.numHeads, totalParameters },
      task: { name: task.name, taskType: task.taskType, metrics: [...task.metrics.metrics], mainMetric: task.metrics.mainMetric, numLabels: model.config.numLabels, trainExamples: train.length, evalExamples: evalSet.length },
      strategy, heads: heads.map(([l, h]) => [l, h]), trainableParameters, trainablePercent: (100 * trainableParameters) / totalParameters,
      hyperparameters: hp, metrics: result.finalEval?.metrics ?? null, evalLoss: result.finalEval?.evalLoss ?? null,
      best: result.best ? { step: result.best.step, value: result.best.value } : null, history: result.history,
      steps: result.steps, epochs: result.epochs, stoppedEarly: result.stoppedEarly, resumedFrom: result.resumedFrom,
      backend: backend.backend, seconds, secondsPerStep: result.secondsPerStep,
    };
    await writeFileAtomic(join(outDir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    stage('done', `done in ${seconds.total.toFixed(1)} s: ${task.metrics.mainMetric} ${metrics.metrics ? metrics.metrics.main.toFixed(4) : 'n/a'}`);
    return { outDir, metrics, heads, adapterDir, mergedDir, analysis };
  } catch (err) {
    // An abort outside the training loop (loading, analysis) surfaces as the same error as one inside it.
    if (signal?.aborted && !(err instanceof TrainingAbortedError)) throw new TrainingAbortedError(0, null);
    throw err;
  } finally {
    trainer?.dispose();
    trainable?.dispose();
    p.model.dispose();
    if (tf.memory().numTensors > 0) logger?.info({ numTensors: tf.memory().numTensors }, 'tensors still alive after the pipeline (other models in this process?)');
  }
}
