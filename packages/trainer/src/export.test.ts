import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { collate } from '@hifi/data';
import { loadPretrained, readSafetensors, writeSafetensors, loadCheckpointDir, type EncoderModel } from '@hifi/engine';
import { setupTfjs, fixtureDir, syntheticExamples } from './test-support.ts';
import { TrainableSet, type TrainableSpec } from './trainable.ts';
import { Trainer } from './trainer.ts';
import { resolveHyperparameters } from './hyperparameters.ts';
import { baseModelFingerprint } from './base-fingerprint.ts';
import { exportTrainedModel } from './export-trained.ts';
import { applyAdapter } from './apply-adapter.ts';
import { readAdapter } from './adapter.ts';
import { AdapterError } from './errors.ts';

await setupTfjs();

async function logitsOf(model: EncoderModel, batch: ReturnType<typeof collate>): Promise<Float32Array> {
  const t = tf.tidy(() => model.forward(batch).logits!);
  const out = (await t.data()) as Float32Array;
  t.dispose();
  return out;
}

const CASES: { fixture: 'tiny-bert' | 'tiny-roberta'; spec: TrainableSpec; labels: string[] | 'regression' }[] = [
  { fixture: 'tiny-bert', spec: { mode: 'heads', heads: [[0, 2], [1, 1], [1, 2]], trainOutputProjection: true }, labels: ['no', 'yes'] },
  { fixture: 'tiny-roberta', spec: { mode: 'heads', heads: [[2, 5], [0, 0]], trainOutputProjection: false }, labels: 'regression' },
  { fixture: 'tiny-bert', spec: { mode: 'full' }, labels: ['a', 'b', 'c'] },
];

for (const { fixture, spec, labels } of CASES) {
  test(`${fixture} ${spec.mode}: export → reload gives the same logits; applyAdapter(base, adapter) equals the merged export`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'hifi-export-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const base = fixtureDir(fixture);
    const p = await loadPretrained(base, { labels, seed: 3 });
    const model = p.model;
    const fingerprint = baseModelFingerprint(model.config, model.stateDict());
    const ts = TrainableSet.create(model, spec);
    const taskType = labels === 'regression' ? 'regression' : 'classification';
    const trainer = new Trainer(model, ts, resolveHyperparameters({ headLearningRate: 1e-2, learningRate: 1e-3, warmupRatio: 0 }), taskType);
    const ex = syntheticExamples(model.config, 8, 9);
    for (let s = 1; s <= 2; s++) await trainer.step(collate(ex, [...Array(8).keys()], { padId: model.config.padTokenId, taskType }), s, 2);
    const trainedParams = ts.numParams();
    trainer.dispose();
    ts.commit();

    const batch = collate(syntheticExamples(model.config, 5, 10), [0, 1, 2, 3, 4], { padId: model.config.padTokenId, taskType });
    const expected = await logitsOf(model, batch);
    const adapterDir = join(dir, 'adapter');
    const mergedDir = join(dir, 'merged');
    await exportTrainedModel(model, {
      adapterDir, mergedDir, tokenizerFiles: p.tokenizer.files, baseFingerprint: fingerprint, baseSource: base, strategy: spec.mode === 'full' ? 'full' : 'hifi',
      mode: spec.mode, heads: spec.heads ?? [], trainOutputProjection: spec.trainOutputProjection ?? true, trainableParameters: trainedParams,
    });
    model.dispose();

    // Reload through the engine: a *ForSequenceClassification checkpoint, nothing fresh, nothing unused, same logits.
    const reloaded = await loadPretrained(mergedDir);
    assert.deepEqual(reloaded.report, { newlyInitialized: [], unused: [] });
    const config = JSON.parse(await readFile(join(mergedDir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, [fixture === 'tiny-bert' ? 'BertForSequenceClassification' : 'RobertaForSequenceClassification']);
    assert.equal(config.num_labels, labels === 'regression' ? 1 : labels.length);
    if (labels !== 'regression') assert.deepEqual(config.id2label, Object.fromEntries(labels.map((l, i) => [String(i), l])));
    const got = await logitsOf(reloaded.model, batch);
    reloaded.model.dispose();
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 1e-5, `logit ${i}: ${got[i]} vs ${expected[i]}`);

    // The adapter holds only the trained slices (+ task head) and merges back to the same bytes.
    const { config: ac, weights } = await readAdapter(adapterDir);
    let adapterParams = 0;
    for (const w of weights.values()) adapterParams += w.data.length;
    assert.equal(adapterParams, trainedParams);
    assert.equal(ac.baseModel.fingerprint, fingerprint);
    const applied = join(dir, 'applied');
    const r = await applyAdapter(base, adapterDir, applied);
    assert.ok(r.fingerprintMatches);
    const a = (await readSafetensors(join(applied, 'model.safetensors'))).tensors;
    const m = (await readSafetensors(join(mergedDir, 'model.safetensors'))).tensors;
    assert.deepEqual([...a.keys()].sort(), [...m.keys()].sort());
    for (const [k, v] of m) assert.deepEqual(a.get(k)!.data, v.data, k);
    assert.ok((await readFile(join(applied, 'model.safetensors'))).equals(await readFile(join(mergedDir, 'model.safetensors'))), 'model.safetensors differs byte-wise');
    assert.deepEqual(JSON.parse(await readFile(join(applied, 'config.json'), 'utf8')), config);
  });
}

test('applyAdapter refuses another base model, and an adapter directory without files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-export-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const base = fixtureDir('tiny-bert');
  const p = await loadPretrained(base, { seed: 1 });
  const fp = baseModelFingerprint(p.model.config, p.model.stateDict());
  const ts = TrainableSet.create(p.model, { mode: 'heads', heads: [[0, 0]] });
  ts.commit();
  await exportTrainedModel(p.model, { adapterDir: join(dir, 'adapter'), tokenizerFiles: [], baseFingerprint: fp, strategy: 'hifi', mode: 'heads', heads: [[0, 0]], trainOutputProjection: true, trainableParameters: 0 });
  p.model.dispose();
  // A base with one changed weight.
  const other = join(dir, 'other');
  await mkdir(other);
  const ck = await loadCheckpointDir(base, { normalize: false });
  const key = [...ck.weights.keys()].find((k) => k.includes('layer.1.output.dense.weight'))!;
  ck.weights.get(key)!.data[0] += 1;
  await writeSafetensors(join(other, 'model.safetensors'), ck.weights);
  for (const f of ['config.json', 'vocab.txt']) await copyFile(join(base, f), join(other, f));
  await assert.rejects(applyAdapter(other, join(dir, 'adapter'), join(dir, 'out')), (e: unknown) => e instanceof AdapterError && /fingerprint/.test(e.message));
  const forced = await applyAdapter(other, join(dir, 'adapter'), join(dir, 'out'), { allowBaseMismatch: true });
  assert.equal(forced.fingerprintMatches, false);
  await mkdir(join(dir, 'empty'));
  await assert.rejects(applyAdapter(base, join(dir, 'empty'), join(dir, 'out2')), (e: unknown) => e instanceof AdapterError && /adapter_config.json: file not found/.test(e.message));
  await writeFile(join(dir, 'empty', 'adapter_config.json'), '{"format": "something-else"}');
  await assert.rejects(applyAdapter(base, join(dir, 'empty'), join(dir, 'out2')), /format is "something-else"/);
});
