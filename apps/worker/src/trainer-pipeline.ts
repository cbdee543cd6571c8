// The production pipeline: resolve the job's model and data locally, run the trainer's runTrainingPipeline into
// the attempt's work dir, and translate what it reports into job stages, progress and events:
//   trainer stage load / analyze / select → analyzing, train → training, the final evaluation → evaluating,
//   export → exporting; eval → `metrics` events (train loss, eval loss and metrics); checkpoint → `checkpoint`
//   events (the archive is already an artifact, see object-store-checkpoint-sink.ts); resumed → a `log` event.
// The head report, mask and figure are published as soon as the selection is made; the outputs become artifacts:
//   heads.json, head_mask.json, heads.svg, graph.gexf, heads.safetensors, adapter_config.json,
//   merged-<file> for each file of the merged Hugging Face checkpoint, training-metrics.json (the trainer's report).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { headGraphsToGexf } from '@hifi/hifi';
import { DatasetStore, parseModelSource, UnrecoverableJobError, type JobSpec, type MetricValues } from '@hifi/jobs';
import type { ObjectStore } from '@hifi/storage';
import { runTrainingPipeline, type Hyperparameters, type TrainingEvent, type TrainingPipelineSpec, type TrainingProgress } from '@hifi/trainer';
import type { ArtifactFile } from './artifacts.ts';
import type { WorkerConfig } from './config.ts';
import { resolveJobDataset } from './dataset-source.ts';
import { resolveJobModel } from './model-source.ts';
import type { JobPipeline, PipelineContext, PipelineStage } from './pipeline.ts';

export interface TrainerPipelineOptions {
  config: WorkerConfig;
  store: ObjectStore;
  redis: Redis;
}

/** The job's hyperparameters in the trainer's terms (null → 0 = "no limit"), plus the worker's checkpoint policy. */
export function trainerHyperparameters(spec: JobSpec, config: Pick<WorkerConfig, 'checkpointEverySteps' | 'checkpointMinutes'>): Partial<Hyperparameters> {
  const h = spec.hyperparameters;
  return {
    epochs: h.epochs ?? 0,
    maxSteps: h.maxSteps ?? 0,
    batchSize: h.batchSize,
    learningRate: h.learningRate,
    headLearningRate: h.headLearningRate,
    taskHeadLearningRate: h.taskHeadLearningRate,
    warmupRatio: h.warmupRatio,
    weightDecay: h.weightDecay,
    maxLength: h.maxLength,
    evalInterval: h.evalInterval,
    earlyStoppingPatience: h.earlyStoppingPatience,
    maxTrainExamples: h.maxTrainExamples ?? 0,
    trainOutputProjection: h.trainOutputProjection,
    seed: spec.seed,
    checkpointInterval: config.checkpointEverySteps,
    checkpointMinutes: config.checkpointMinutes,
  };
}

const STAGE_OF: Record<string, PipelineStage | undefined> = { load: 'analyzing', analyze: 'analyzing', select: 'analyzing', train: 'training', evaluate: 'evaluating', export: 'exporting' };

function numericValues(obj: object): MetricValues {
  const out: MetricValues = {};
  for (const [k, v] of Object.entries(obj)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

async function filesIn(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    const files: string[] = [];
    for (const n of names.sort()) if ((await stat(join(dir, n))).isFile()) files.push(n);
    return files;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Translates the trainer's callbacks into the job's reports. */
function reporterFor(ctx: PipelineContext, publishHeads: () => void) {
  let totalSteps: number | null = null;
  const onEvent = (e: TrainingEvent): void => {
    switch (e.type) {
      case 'stage': {
        if (e.stage === 'export') ctx.stage('evaluating');
        const stage = STAGE_OF[e.stage];
        if (stage) ctx.stage(stage);
        if (e.stage !== 'done') ctx.event({ type: 'log', level: 'info', message: e.message });
        if (e.stage === 'select') publishHeads();
        return;
      }
      case 'resumed':
        ctx.event({ type: 'resumed', checkpoint: e.checkpoint, step: e.step });
        return;
      case 'eval': {
        const r = e.record;
        if (Number.isFinite(r.trainLoss)) ctx.event({ type: 'metrics', split: 'train', step: r.step, epoch: r.epoch, values: { loss: r.trainLoss } });
        ctx.event({ type: 'metrics', split: 'eval', step: r.step, epoch: r.epoch, values: { loss: r.evalLoss, ...numericValues(r.metrics) } });
        // The evaluation at the last step is the final one: the weights to export are chosen after it.
        if (totalSteps !== null && r.step >= totalSteps) ctx.stage('evaluating');
        return;
      }
      case 'checkpoint':
        ctx.event({ type: 'checkpoint', name: e.name, step: e.step });
        return;
      case 'early-stop':
        ctx.event({ type: 'log', level: 'info', message: `early stop at step ${e.step} (${e.patience} evaluations without improvement)` });
        ctx.stage('evaluating');
        return;
      case 'warning':
        ctx.event({ type: 'log', level: 'warn', message: e.message });
        return;
    }
  };
  const onProgress = (p: TrainingProgress): void => {
    if (p.stage === 'train') totalSteps = p.totalSteps;
    const metrics: MetricValues = {};
    if (p.loss !== null && Number.isFinite(p.loss)) metrics.loss = p.loss;
    if (p.lr !== null && Number.isFinite(p.lr)) metrics.lr = p.lr;
    if (p.metrics) for (const [k, v] of Object.entries(numericValues(p.metrics))) metrics[`eval_${k}`] = v;
    ctx.progress({ step: p.step, totalSteps: p.totalSteps, epoch: p.stage === 'train' ? p.epoch : null, metrics, etaSeconds: p.etaSeconds });
  };
  return { onEvent, onProgress };
}

export function createTrainerPipeline(opts: TrainerPipelineOptions): JobPipeline {
  const { config, store } = opts;
  const datasets = new DatasetStore({ redis: opts.redis, prefix: config.redisPrefix });
  return async (ctx) => {
    const { spec, workDir } = ctx;
    ctx.stage('analyzing');
    // hf: sources go to the engine as they are (it downloads into the cache, and the adapter records the source);
    // a local path goes with the allowed roots (the engine checks them, symlinks resolved); registered ids and
    // s3:// folders are resolved to a local directory here.
    const parsed = parseModelSource(spec.model);
    let model: string;
    let allowDirs: string[] | undefined;
    if (parsed.ok && parsed.source.kind === 'hf') {
      model = spec.model;
    } else if (parsed.ok && parsed.source.kind === 'local') {
      if (config.modelDirs.length === 0) throw new UnrecoverableJobError('MODEL_NOT_ALLOWED', 'local model paths are not allowed on this worker (HIFI_MODEL_DIRS is not set)', 'model');
      model = parsed.source.path;
      allowDirs = [...config.modelDirs];
    } else {
      model = await resolveJobModel(spec.model, { modelDirs: config.modelDirs, cacheDir: config.cacheDir, storage: config.storage }, workDir);
    }
    const dataset = await resolveJobDataset(spec.task, { tenant: ctx.tenant, glueDir: config.glueDir, datasets, store, workDir });
    const outDir = join(workDir, 'out');
    const trainingSpec: TrainingPipelineSpec = {
      model,
      task: dataset.kind === 'glue' ? `glue:${dataset.task}` : { trainFile: dataset.file },
      ...(dataset.kind === 'glue' ? { dataDir: dataset.glueDir } : {}),
      strategy: spec.strategy,
      // A maxTrainableParams budget is priced by the trainer with the model's sizes (it adds hiddenSize/headDim).
      budget: spec.budget as TrainingPipelineSpec['budget'],
      analysisSamples: spec.hyperparameters.analysisSamples,
      hyperparameters: trainerHyperparameters(spec, config),
      outDir,
      exports: { adapter: true, merged: true },
      source: { cacheDir: config.cacheDir, ...(allowDirs === undefined ? {} : { allowDirs }) },
    };

    // The head report, mask and figure become downloadable as soon as the selection is made.
    const early: Promise<void>[] = [];
    const publishHeads = () => {
      for (const name of ['heads.json', 'head_mask.json', 'heads.svg']) {
        early.push(
          stat(join(outDir, name)).then(
            () => ctx.publishEarly({ name, source: { path: join(outDir, name) } }),
            () => undefined,
          ),
        );
      }
    };
    const { onEvent, onProgress } = reporterFor(ctx, publishHeads);
    const result = await runTrainingPipeline(trainingSpec, {
      signal: ctx.signal,
      onEvent,
      onProgress,
      checkpointSink: ctx.checkpointSink,
      ...(ctx.resumeFrom === undefined ? {} : { resumeFrom: ctx.resumeFrom }),
      logger: ctx.logger,
    });
    await Promise.all(early);

    ctx.stage('exporting');
    const files: ArtifactFile[] = [];
    for (const name of ['heads.json', 'head_mask.json', 'heads.svg']) {
      if ((await filesIn(outDir)).includes(name)) files.push({ name, source: { path: join(outDir, name) } });
    }
    if (result.analysis) {
      const gexf = headGraphsToGexf(
        result.analysis.ranking.layers.map((l) => l.graph),
        { scores: result.analysis.ranking.scores, mask: result.analysis.mask.mask, pretty: true },
      );
      files.push({ name: 'graph.gexf', source: { bytes: new TextEncoder().encode(gexf) }, kind: 'figure' });
    }
    if (result.adapterDir) for (const name of await filesIn(result.adapterDir)) files.push({ name, source: { path: join(result.adapterDir, name) }, kind: 'adapter' });
    if (result.mergedDir) for (const name of await filesIn(result.mergedDir)) files.push({ name: `merged-${name}`, source: { path: join(result.mergedDir, name) }, kind: 'model' });
    files.push({ name: 'training-metrics.json', source: { path: join(outDir, 'metrics.json') }, kind: 'metrics' });
    return { files };
  };
}
