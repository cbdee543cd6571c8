import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadCheckpointDir, normalizeKeys } from './checkpoint.ts';
import { ConfigError, parseConfig } from './config.ts';
import { CheckpointError } from './errors.ts';
import { readSafetensors, writeSafetensors, writeShardedSafetensors } from './safetensors.ts';
import type { StateDict } from './types.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
const TINY_BERT = join(SHARED, 'fixtures/tiny-bert');
const TINY_ROBERTA = join(SHARED, 'fixtures/tiny-roberta');
const BERT_MINI = join(SHARED, 'models/bert-mini-hifi');

let tmp: string;
before(async () => { tmp = await mkdtemp(join(tmpdir(), 'hifi-checkpoint-')); });
after(async () => { await rm(tmp, { recursive: true, force: true }); });

async function makeDir(name: string, files: Record<string, string>): Promise<string> {
  const d = join(tmp, name);
  await mkdir(d, { recursive: true });
  for (const [f, content] of Object.entries(files)) await writeFile(join(d, f), content);
  return d;
}

describe('loadCheckpointDir on the shared checkpoints', () => {
  test('tiny-bert: config and canonical keys', async () => {
    const ck = await loadCheckpointDir(TINY_BERT);
    assert.equal(ck.config.modelType, 'bert');
    assert.equal(ck.config.numLabels, 3);
    assert.equal(ck.files.config, join(TINY_BERT, 'config.json'));
    assert.deepEqual(ck.files.weights, [join(TINY_BERT, 'model.safetensors')]);
    assert.ok(ck.weights.has('bert.encoder.layer.1.attention.self.query.weight'));
    assert.ok(ck.weights.has('bert.pooler.dense.weight'));
    assert.deepEqual(ck.weights.get('classifier.weight')?.shape, [3, 64]);
  });

  test('tiny-roberta: roberta.* keys and the two-layer classifier', async () => {
    const ck = await loadCheckpointDir(TINY_ROBERTA);
    assert.equal(ck.config.modelType, 'roberta');
    assert.equal(ck.config.padTokenId, 1);
    assert.ok(ck.weights.has('roberta.encoder.layer.2.output.LayerNorm.bias'));
    assert.ok(ck.weights.has('classifier.out_proj.weight'));
    assert.ok(![...ck.weights.keys()].some((k) => k.includes('pooler')));
  });

  test('bert-mini-hifi (BertForMaskedLM): encoder keys kept, cls.predictions.* left for the model to report', async () => {
    const ck = await loadCheckpointDir(BERT_MINI);
    assert.deepEqual(ck.config.architectures, ['BertForMaskedLM']);
    const keys = [...ck.weights.keys()];
    assert.ok(keys.includes('bert.encoder.layer.3.attention.self.value.bias'));
    assert.ok(keys.some((k) => k.startsWith('cls.predictions.')));
    assert.ok(!keys.some((k) => k.startsWith('bert.pooler') || k.startsWith('classifier')));
    assert.ok(keys.every((k) => k.startsWith('bert.') || k.startsWith('cls.')), keys.join(','));
  });
});

describe('checkpoint errors name the file and the problem', () => {
  test('config.json that is not JSON', async () => {
    const d = await makeDir('bad-json', { 'config.json': '{"model_type": "bert",' });
    await assert.rejects(loadCheckpointDir(d), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'INVALID_MODEL_CONFIG');
      assert.ok(err.message.startsWith(join(d, 'config.json')), err.message);
      assert.match(err.message, /not valid JSON/);
      return true;
    });
  });

  test('config.json missing a required field', async () => {
    const config = JSON.parse(await readFile(join(TINY_BERT, 'config.json'), 'utf8'));
    delete config.hidden_size;
    const d = await makeDir('missing-field', { 'config.json': JSON.stringify(config) });
    await assert.rejects(loadCheckpointDir(d), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${join(d, 'config.json')}: missing required field "hidden_size"`);
      return true;
    });
  });

  test('no config.json at all', async () => {
    const d = await makeDir('no-config', {});
    await assert.rejects(loadCheckpointDir(d), /no-config\/config.json: file not found/);
  });

  test('a directory that does not exist', async () => {
    await assert.rejects(loadCheckpointDir(join(tmp, 'nowhere')), (err: unknown) => err instanceof CheckpointError && /nowhere: checkpoint directory not found/.test(err.message));
  });

  test('pytorch_model.bin only: refused with a clear reason', async () => {
    const d = await makeDir('pt-only', { 'pytorch_model.bin': 'PK\u0003\u0004' });
    await copyFile(join(TINY_BERT, 'config.json'), join(d, 'config.json'));
    await assert.rejects(loadCheckpointDir(d), (err: unknown) => {
      assert.ok(err instanceof CheckpointError);
      assert.equal(err.code, 'INVALID_CHECKPOINT');
      assert.match(err.message, /pt-only: has pytorch_model.bin but no model.safetensors: only safetensors checkpoints are supported/);
      return true;
    });
  });

  test('no weights at all', async () => {
    const d = await makeDir('no-weights', {});
    await copyFile(join(TINY_BERT, 'config.json'), join(d, 'config.json'));
    await assert.rejects(loadCheckpointDir(d), /no-weights: no model.safetensors or model.safetensors.index.json found/);
  });
});

describe('sharded checkpoints and key normalisation', () => {
  test('a sharded copy of tiny-roberta loads the same tensors', async () => {
    const original = await loadCheckpointDir(TINY_ROBERTA);
    const d = join(tmp, 'roberta-sharded');
    await mkdir(d, { recursive: true });
    await copyFile(join(TINY_ROBERTA, 'config.json'), join(d, 'config.json'));
    await writeShardedSafetensors(d, original.weights, 2_000_000);
    const sharded = await loadCheckpointDir(d);
    assert.equal(sharded.files.index, join(d, 'model.safetensors.index.json'));
    assert.ok(sharded.files.weights.length > 1);
    assert.equal(sharded.weights.size, original.weights.size);
    for (const [k, t] of original.weights) assert.deepEqual(sharded.weights.get(k)!.data, t.data, k);
  });

  test('a prefix-less base checkpoint with legacy gamma/beta names loads under canonical keys', async () => {
    const { tensors } = await readSafetensors(join(TINY_BERT, 'model.safetensors'));
    // Make it look like an old TF-converted BertModel + an MLM head: no "bert." prefix, LayerNorm gamma/beta.
    const legacy: StateDict = new Map();
    for (const [k, t] of tensors) {
      if (k.startsWith('classifier.')) continue;
      let name = k.replace(/^bert\./, '');
      if (name.includes('LayerNorm.')) name = name.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta');
      legacy.set(name, t);
    }
    legacy.set('cls.predictions.bias', { shape: [30522], data: new Float32Array(30522) });
    legacy.set('cls.predictions.transform.LayerNorm.gamma', { shape: [64], data: new Float32Array(64).fill(1) });
    assert.ok(legacy.has('embeddings.LayerNorm.gamma') && legacy.has('encoder.layer.0.output.LayerNorm.beta'));
    const d = join(tmp, 'legacy');
    await mkdir(d, { recursive: true });
    await copyFile(join(TINY_BERT, 'config.json'), join(d, 'config.json'));
    await writeSafetensors(join(d, 'model.safetensors'), legacy);

    const raw = await loadCheckpointDir(d, { normalize: false });
    assert.ok(raw.weights.has('embeddings.LayerNorm.gamma'));
    const ck = await loadCheckpointDir(d);
    const expected = [...tensors.keys()].filter((k) => !k.startsWith('classifier.'));
    for (const k of expected) assert.deepEqual(ck.weights.get(k)?.data, tensors.get(k)!.data, k);
    // other heads keep their names apart from the LayerNorm rename, so the model can list them as unused
    assert.deepEqual([...ck.weights.keys()].filter((k) => !k.startsWith('bert.')).sort(),
      ['cls.predictions.bias', 'cls.predictions.transform.LayerNorm.weight']);
    assert.equal(ck.weights.size, expected.length + 2);
  });

  test('normalizeKeys: roberta prefix, existing prefixes untouched, collisions refused', () => {
    const config = parseConfig({ model_type: 'roberta', vocab_size: 10, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 8, max_position_embeddings: 8 });
    const t = { shape: [1], data: new Float32Array([1]) };
    const out = normalizeKeys(config, new Map([
      ['embeddings.word_embeddings.weight', t], ['roberta.encoder.layer.0.output.dense.bias', t], ['lm_head.dense.weight', t], ['classifier.dense.weight', t],
    ]));
    assert.deepEqual([...out.keys()], ['roberta.embeddings.word_embeddings.weight', 'roberta.encoder.layer.0.output.dense.bias', 'lm_head.dense.weight', 'classifier.dense.weight']);
    assert.equal(out.get('lm_head.dense.weight'), t);
    assert.throws(() => normalizeKeys(config, new Map([['roberta.embeddings.LayerNorm.weight', t], ['embeddings.LayerNorm.gamma', t]]), 'ckpt.safetensors'),
      (err: unknown) => err instanceof CheckpointError && err.message === 'ckpt.safetensors: tensors "roberta.embeddings.LayerNorm.weight" and "embeddings.LayerNorm.gamma" both map to "roberta.embeddings.LayerNorm.weight"; the checkpoint is ambiguous');
  });
});
