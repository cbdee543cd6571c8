import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadPretrained } from '@hifi/engine';
import { parseHeadMask } from '@hifi/hifi';
import { setupTfjs, fixtureDir, SHARED } from './test-support.ts';
import { runTrainingPipeline, type TrainingPipelineSpec } from './pipeline.ts';
import type { TrainingEvent, TrainingProgress } from './events.ts';
import { TrainingAbortedError } from './errors.ts';
import { readAdapter } from './adapter.ts';

await setupTfjs();
const GLUE = join(SHARED, 'data', 'glue');

function rteSpec(outDir: string): TrainingPipelineSpec {
  return {
    model: fixtureDir('tiny-bert'), task: 'glue:RTE', dataDir: GLUE, strategy: 'hifi', budget: { perLayer: 1 }, analysisSamples: 24, outDir,
    hyperparameters: { epochs: 2, batchSize: 8, maxTrainExamples: 32, maxEvalExamples: 16, maxLength: 32, evalInterval: 2, seed: 3 },
  };
}

test('glue:RTE on tiny-bert, hifi k=1: analysis, selection, training, evaluation, exports and metrics.json', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hifi-pipeline-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const before = tf.memory().numTensors;
  const progress: TrainingProgress[] = [];
  const events: TrainingEvent[] = [];
  const r = await runTrainingPipeline(rteSpec(out), { onProgress: (p) => progress.push(p), onEvent: (e) => events.push(e) });
  assert.equal(tf.memory().numTensors, before, 'the pipeline left tensors behind');

  assert.deepEqual(new Set(progress.map((p) => p.stage)), new Set(['load', 'analyze', 'train']));
  const stages = events.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage);
  assert.deepEqual(stages, ['load', 'analyze', 'select', 'train', 'export', 'done']);
  const train = progress.filter((p) => p.stage === 'train');
  assert.equal(train.length, 8);
  assert.equal(train.at(-1)!.step, 8);
  assert.ok(train.every((p) => p.totalSteps === 8 && typeof p.loss === 'number' && p.etaSeconds !== null));

  assert.equal(r.heads.length, 2, 'one head in each of the 2 layers');
  const mask = parseHeadMask(JSON.parse(await readFile(join(out, 'head_mask.json'), 'utf8')));
  assert.deepEqual(mask.selected, r.heads);
  const report = JSON.parse(await readFile(join(out, 'heads.json'), 'utf8'));
  assert.equal(report.kind, 'hifi-head-report');
  assert.equal(report.model.fingerprint, r.metrics.model.fingerprint);

  const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
  assert.equal(metrics.task.name, 'glue:rte');
  assert.equal(metrics.task.mainMetric, 'accuracy');
  assert.equal(metrics.task.trainExamples, 32);
  assert.equal(metrics.task.evalExamples, 16);
  assert.equal(typeof metrics.metrics.accuracy, 'number');
  assert.equal(metrics.history.length, 4);
  assert.ok(metrics.trainablePercent > 0 && metrics.trainablePercent < 5, `${metrics.trainablePercent}%`);

  const adapter = await readAdapter(join(out, 'adapter'));
  assert.deepEqual(adapter.config.heads, r.heads);
  assert.deepEqual(adapter.config.id2label, { 0: 'entailment', 1: 'not_entailment' });
  const merged = await loadPretrained(join(out, 'merged'));
  assert.deepEqual(merged.report.newlyInitialized, []);
  assert.equal(merged.config.numLabels, 2);
  merged.model.dispose();
  assert.deepEqual((await readdir(join(out, 'checkpoints'))).filter((n) => !n.startsWith('.')).sort(), ['best', 'step-00000004', 'step-00000006']);
});

test('the pipeline stops on abort with a checkpoint and, resumed, ends where an uninterrupted run ends', async (t) => {
  const a = await mkdtemp(join(tmpdir(), 'hifi-pipeline-'));
  const b = await mkdtemp(join(tmpdir(), 'hifi-pipeline-'));
  t.after(() => Promise.all([rm(a, { recursive: true, force: true }), rm(b, { recursive: true, force: true })]));
  const reference = await runTrainingPipeline(rteSpec(a));
  const controller = new AbortController();
  await assert.rejects(
    runTrainingPipeline(rteSpec(b), { signal: controller.signal, onProgress: (p) => { if (p.stage === 'train' && p.step === 5) controller.abort(); } }),
    (e: unknown) => e instanceof TrainingAbortedError && e.step === 5,
  );
  const resumed = await runTrainingPipeline(rteSpec(b), { resumeFrom: 'latest' });
  assert.equal(resumed.metrics.resumedFrom, 'step-00000005');
  assert.deepEqual(resumed.metrics.history.map((h) => h.metrics), reference.metrics.history.map((h) => h.metrics));
  assert.deepEqual(resumed.metrics.metrics, reference.metrics.metrics);
  const wa = (await readAdapter(join(a, 'adapter'))).weights;
  const wb = (await readAdapter(join(b, 'adapter'))).weights;
  for (const [k, v] of wa) {
    const u = wb.get(k)!;
    for (let i = 0; i < v.data.length; i++) assert.ok(Math.abs(v.data[i] - u.data[i]) <= 1e-6, `${k}[${i}]`);
  }
});

test('a custom JSONL regression dataset with strategy full on tiny-roberta', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hifi-pipeline-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const rows = Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: `sample ${i} ${'good '.repeat(i % 5)}`, label: (i % 5) / 4 + 0.01 }));
  await writeFile(join(out, 'data.jsonl'), rows.join('\n'));
  const r = await runTrainingPipeline({
    model: fixtureDir('tiny-roberta'), task: join(out, 'data.jsonl'), strategy: 'full', outDir: join(out, 'run'),
    hyperparameters: { epochs: 1, batchSize: 9, maxLength: 24 }, exports: { merged: false },
  });
  assert.equal(r.metrics.task.taskType, 'regression');
  assert.equal(r.metrics.trainablePercent, 100);
  assert.equal(typeof r.metrics.metrics?.pearson, 'number');
  assert.equal(r.mergedDir, null);
  const adapter = await readAdapter(join(out, 'run', 'adapter'));
  assert.equal(adapter.config.mode, 'full');
  assert.equal(adapter.config.problemType, 'regression');
});

test('an abort during the analysis stops the pipeline with TrainingAbortedError and frees the model', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hifi-pipeline-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const before = tf.memory().numTensors;
  const controller = new AbortController();
  await assert.rejects(
    runTrainingPipeline(rteSpec(out), { signal: controller.signal, onProgress: (p) => { if (p.stage === 'analyze') controller.abort(); } }),
    (e: unknown) => e instanceof TrainingAbortedError && e.step === 0 && e.checkpoint === null,
  );
  assert.equal(tf.memory().numTensors, before);
});

test('a parameter budget is priced with the model sizes (tiny-bert: 4,144 parameters per head with its output rows)', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hifi-pipeline-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const spec = { ...rteSpec(out), budget: { maxTrainableParams: 9000 }, exports: { adapter: false, merged: false } };
  spec.hyperparameters = { ...spec.hyperparameters, maxSteps: 1, epochs: 0 };
  const r = await runTrainingPipeline(spec);
  assert.equal(r.heads.length, 2);
  const classifier = 64 * 64 + 64 + 64 * 2 + 2; // pooler + classifier
  assert.equal(r.metrics.trainableParameters, 2 * 4144 + classifier);
});
