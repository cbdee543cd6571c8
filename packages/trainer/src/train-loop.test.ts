import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collate, metricSpecFor } from '@hifi/data';
import type { StateDict } from '@hifi/engine';
import { setupTfjs, loadFixture, buildModel, syntheticExamples, type Fixture } from './test-support.ts';
import { TrainableSet, type TrainableSpec } from './trainable.ts';
import { Trainer } from './trainer.ts';
import { resolveHyperparameters, type Hyperparameters } from './hyperparameters.ts';
import { trainLoop, type TrainLoopOptions } from './train-loop.ts';
import { LocalCheckpointSink, MemoryCheckpointSink } from './checkpoint-sink.ts';
import { TrainingAbortedError, TrainingConfigError } from './errors.ts';
import { expectNoTensorGrowth } from './testing.ts';

await setupTfjs();

const HEADS: TrainableSpec = { mode: 'heads', heads: [[0, 1], [1, 0], [1, 2]] };

async function run(fx: Fixture, hp: Partial<Hyperparameters>, extra: Partial<TrainLoopOptions> = {}, spec: TrainableSpec = HEADS, numTrain = 48, onTrainer?: (t: Trainer) => void) {
  const model = buildModel(fx, 7);
  const ts = TrainableSet.create(model, spec);
  const trainer = new Trainer(model, ts, resolveHyperparameters(hp), model.config.numLabels === 1 ? 'regression' : 'classification');
  onTrainer?.(trainer);
  try {
    const result = await trainLoop({
      trainer, train: syntheticExamples(model.config, numTrain, 11), eval: syntheticExamples(model.config, 48, 12),
      padId: model.config.padTokenId, numLabels: model.config.numLabels,
      metrics: metricSpecFor(model.config.numLabels === 1 ? 'regression' : 'classification', model.config.numLabels), ...extra,
    });
    return { result, state: await ts.readState(), moments: await trainer.optimizer.readState() };
  } finally {
    trainer.dispose();
    ts.dispose();
    model.dispose();
  }
}

function maxAbsDiff(a: StateDict, b: StateDict): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let m = 0;
  for (const [k, t] of a) {
    const u = b.get(k)!;
    for (let i = 0; i < t.data.length; i++) m = Math.max(m, Math.abs(t.data[i] - u.data[i]));
  }
  return m;
}

test('loss falls on a learnable synthetic task (heads + task head), and evaluation accuracy rises above chance', async () => {
  const fx = await loadFixture('tiny-bert');
  const { result } = await run(fx, { epochs: 6, batchSize: 8, headLearningRate: 1e-2, taskHeadLearningRate: 1e-2, evalInterval: 12, restoreBest: false }, {}, HEADS, 96);
  const first = result.history[0];
  const last = result.history.at(-1)!;
  assert.equal(result.steps, 72);
  assert.ok(last.trainLoss < first.trainLoss * 0.7, `train loss ${first.trainLoss} → ${last.trainLoss}`);
  assert.ok(last.evalLoss < first.evalLoss * 0.8, `eval loss ${first.evalLoss} → ${last.evalLoss}`);
  assert.ok((last.metrics.accuracy ?? 0) > 0.55, `accuracy ${last.metrics.accuracy} (chance: 1/3)`);
});

test('regression (num_labels 1): MSE falls and Pearson is reported', async () => {
  const fx = await loadFixture('tiny-roberta', 1);
  const { result } = await run(fx, { epochs: 4, batchSize: 8, headLearningRate: 1e-2, taskHeadLearningRate: 3e-3, evalInterval: 6, restoreBest: false }, {}, { mode: 'heads', heads: [[1, 1], [2, 3]] });
  assert.ok(result.history.at(-1)!.trainLoss < result.history[0].trainLoss, JSON.stringify(result.history.map((h) => h.trainLoss)));
  assert.equal(typeof result.finalEval!.metrics.pearson, 'number');
  assert.equal(result.finalEval!.metrics.main, result.finalEval!.metrics.pearson);
});

test('an interrupted and resumed run equals an uninterrupted one (parameters and moments within 1e-6)', async () => {
  const fx = await loadFixture('tiny-bert');
  const hp: Partial<Hyperparameters> = { maxSteps: 9, epochs: 0, batchSize: 8, headLearningRate: 5e-3, evalInterval: 4, seed: 5 };
  const reference = await run(fx, hp);
  assert.equal(reference.result.steps, 9);

  const dir = await mkdtemp(join(tmpdir(), 'hifi-trainer-resume-'));
  try {
    const sink = new LocalCheckpointSink(dir);
    const controller = new AbortController();
    await assert.rejects(
      run(fx, hp, { checkpointSink: sink, signal: controller.signal, onProgress: (p) => { if (p.step === 6) controller.abort(); } }),
      (err: unknown) => err instanceof TrainingAbortedError && err.step === 6 && err.checkpoint === 'step-00000006',
    );
    assert.deepEqual(await sink.list(), ['best', 'step-00000004', 'step-00000006']);
    const resumed = await run(fx, hp, { checkpointSink: sink, resumeFrom: 'latest' });
    assert.equal(resumed.result.resumedFrom, 'step-00000006');
    assert.equal(resumed.result.steps, 9);
    assert.ok(maxAbsDiff(reference.state, resumed.state) <= 1e-6, `parameters differ by ${maxAbsDiff(reference.state, resumed.state)}`);
    assert.ok(maxAbsDiff(reference.moments, resumed.moments) <= 1e-6);
    assert.deepEqual(resumed.result.history.map((h) => h.metrics), reference.result.history.map((h) => h.metrics));
    assert.equal(resumed.result.best?.step, reference.result.best?.step);

    // Stopped in the middle of the evaluation after step 8: the evaluation is pending and runs first on resume.
    await rm(dir, { recursive: true, force: true });
    const c2 = new AbortController();
    let evalCalls = 0;
    await assert.rejects(
      run(fx, { ...hp, evalBatchSize: 16 }, { checkpointSink: sink, signal: c2.signal }, HEADS, 48, (t) => {
        const predict = t.predict.bind(t);
        t.predict = (b) => { if (++evalCalls === 5) c2.abort(); return predict(b); }; // 3 batches per evaluation
        t.predict satisfies typeof predict;
      }),
      (err: unknown) => err instanceof TrainingAbortedError && err.step === 8,
    );
    const afterEvalAbort = await run(fx, { ...hp, evalBatchSize: 16 }, { checkpointSink: sink, resumeFrom: 'latest' });
    assert.equal(afterEvalAbort.result.resumedFrom, 'step-00000008');
    assert.ok(maxAbsDiff(reference.state, afterEvalAbort.state) <= 1e-6);
    assert.deepEqual(afterEvalAbort.result.history.map((h) => [h.step, h.metrics]), reference.result.history.map((h) => [h.step, h.metrics]));

    // Other settings: refused with a clear error.
    await assert.rejects(run(fx, { ...hp, headLearningRate: 1e-3 }, { checkpointSink: sink, resumeFrom: 'latest' }), TrainingConfigError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('restoreBest puts back the weights of the best evaluation', async () => {
  const fx = await loadFixture('tiny-bert');
  const sink = new MemoryCheckpointSink();
  // A learning rate so large that training diverges after the first evaluations: the best is not the last.
  const { result, state } = await run(fx, { epochs: 3, batchSize: 8, headLearningRate: 0.3, taskHeadLearningRate: 0.3, evalInterval: 3, warmupRatio: 0 }, { checkpointSink: sink });
  const best = result.best!;
  assert.ok(best.step < result.steps, `best at step ${best.step} of ${result.steps}: the test needs a best that is not the last`);
  assert.equal(result.finalEval?.step, best.step);
  const saved = (await sink.read('best'))!;
  const { decodeCheckpoint } = await import('./training-state.ts');
  const bestState = decodeCheckpoint(saved, 'best').trainable;
  assert.equal(maxAbsDiff(bestState, state), 0);
});

test('training steps do not grow the tfjs tensor count (heads and full)', async () => {
  for (const spec of [HEADS, { mode: 'full' } as TrainableSpec]) {
    const fx = await loadFixture('tiny-bert');
    const model = buildModel(fx);
    const ts = TrainableSet.create(model, spec);
    const trainer = new Trainer(model, ts, resolveHyperparameters({}), 'classification');
    const ex = syntheticExamples(model.config, 8, 2);
    let step = 0;
    await expectNoTensorGrowth(async () => {
      for (let i = 0; i < 3; i++) await trainer.step(collate(ex, [0, 1, 2, 3, 4, 5, 6, 7], { padId: 0 }), ++step, 100);
      await trainer.predict(collate(ex, [0, 1], { padId: 0 }));
    });
    trainer.dispose();
    ts.dispose();
    model.dispose();
  }
});
