import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';
import { loadPretrained } from './pretrained.ts';
import type { Pretrained } from './pretrained.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';
import { startHubServer } from './testing/hub-server.ts';
import { ModelSourceError, TokenizerError } from './errors.ts';
import type { EncodedBatch, StateDict } from './types.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
const TINY_BERT = join(SHARED, 'fixtures/tiny-bert');
const TINY_ROBERTA = join(SHARED, 'fixtures/tiny-roberta');
const BERT_MINI = join(SHARED, 'models/bert-mini-hifi');

interface Expected {
  texts?: { text: string; text_pair: string | null }[];
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  logits: number[][];
  last_hidden_state: number[][][];
}

let tmp: string;
before(async () => {
  await initBackend();
  tmp = await mkdtemp(join(tmpdir(), 'hifi-pretrained-'));
});
after(async () => { await rm(tmp, { recursive: true, force: true }); });

const readExpected = async (dir: string): Promise<Expected> => JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8'));

function batchFrom(ex: Expected): EncodedBatch {
  const B = ex.input_ids.length;
  const T = ex.input_ids[0].length;
  return {
    batchSize: B, seqLen: T,
    inputIds: Int32Array.from(ex.input_ids.flat()),
    attentionMask: Int32Array.from(ex.attention_mask.flat()),
    tokenTypeIds: ex.token_type_ids ? Int32Array.from(ex.token_type_ids.flat()) : new Int32Array(B * T),
  };
}

function run(p: Pretrained, batch: EncodedBatch): { logits: number[][]; hidden: number[][][] } {
  const [logits, hidden] = tf.tidy(() => {
    const out = p.model.forward(batch);
    return [out.logits!, out.lastHiddenState];
  });
  const result = { logits: logits.arraySync() as number[][], hidden: hidden.arraySync() as number[][][] };
  tf.dispose([logits, hidden]);
  return result;
}

const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('loadPretrained', () => {
  test('tiny-bert from its directory: text → tokenizer → model reproduces the reference logits', async () => {
    const p = await loadPretrained(TINY_BERT);
    try {
      const ex = await readExpected(TINY_BERT);
      assert.deepEqual(p.report, { newlyInitialized: [], unused: [] });
      assert.equal(p.dir, TINY_BERT);
      assert.equal(p.maxLength, 64);
      const batch = p.tokenizer.encodeBatch(ex.texts!.map((t) => ({ text: t.text, textPair: t.text_pair })));
      const { logits, hidden } = run(p, batch);
      assert.ok(maxAbsDiff(logits.flat(), ex.logits.flat()) < 1e-4, `logits differ by ${maxAbsDiff(logits.flat(), ex.logits.flat())}`);
      assert.ok(maxAbsDiff(hidden.flat(2), ex.last_hidden_state.flat(2)) < 1e-4);
    } finally {
      p.model.dispose();
    }
  });

  test('tiny-roberta from the hub server: BPE tokenizer from vocab.json + merges.txt and reference logits', async () => {
    const server = await startHubServer({ root: join(SHARED, 'fixtures') });
    let p: Pretrained | undefined;
    try {
      p = await loadPretrained('hf:fixtures/tiny-roberta', { endpoint: server.url, token: '', cacheDir: join(tmp, 'cache') });
      assert.equal(p.tokenizer.kind, 'bpe');
      assert.equal(p.tokenizer.padTokenId, 1);
      assert.equal(p.maxLength, 64);
      assert.ok(p.dir.startsWith(join(tmp, 'cache')));
      const ex = await readExpected(TINY_ROBERTA);
      const { logits } = run(p, batchFrom(ex));
      assert.ok(maxAbsDiff(logits.flat(), ex.logits.flat()) < 1e-4);
    } finally {
      p?.model.dispose();
      await server.close();
    }
  });

  test('bert-mini-hifi (a BertForMaskedLM base checkpoint): MLM head unused, pooler and classifier new', async () => {
    const p = await loadPretrained(BERT_MINI, { labels: ['negative', 'positive'] });
    try {
      assert.deepEqual([...p.report.newlyInitialized].sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
      assert.ok(p.report.unused.length > 0 && p.report.unused.every((k) => k.startsWith('cls.predictions.')), p.report.unused.join(', '));
      assert.deepEqual(p.config.id2label, { 0: 'negative', 1: 'positive' });
      assert.deepEqual(p.model.param('classifier.weight').shape, [128, 2]); // internal layout [in, out]
      assert.equal(p.tokenizer.kind, 'wordpiece');
    } finally {
      p.model.dispose();
    }
  });

  test('a label-count override replaces a fine-tuned head and reports it', async () => {
    const p = await loadPretrained(TINY_BERT, { numLabels: 2 });
    try {
      assert.equal(p.config.numLabels, 2);
      assert.deepEqual([...p.report.newlyInitialized].sort(), ['classifier.bias', 'classifier.weight']);
      assert.deepEqual([...p.report.unused].sort(), ['classifier.bias', 'classifier.weight']);
      const reg = await loadPretrained(TINY_BERT, { numLabels: 1, seed: 3 });
      assert.equal(reg.config.problemType, 'regression');
      reg.model.dispose();
    } finally {
      p.model.dispose();
    }
    await assert.rejects(loadPretrained(TINY_BERT, { labels: ['a', 'b'], numLabels: 3 }), /disagree/);
  });

  test('a prefix-less checkpoint with gamma/beta names gives the same outputs as the original', async () => {
    const { tensors } = await readSafetensors(join(TINY_BERT, 'model.safetensors'));
    const legacy: StateDict = new Map();
    for (const [k, t] of tensors) {
      let name = k.replace(/^bert\./, '');
      if (name.includes('LayerNorm.')) name = name.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta');
      legacy.set(name, t);
    }
    const d = join(tmp, 'legacy-bert');
    await mkdir(d, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json']) await copyFile(join(TINY_BERT, f), join(d, f));
    await writeSafetensors(join(d, 'model.safetensors'), legacy);
    const p = await loadPretrained(d);
    try {
      assert.deepEqual(p.report, { newlyInitialized: [], unused: [] });
      const ex = await readExpected(TINY_BERT);
      const { logits } = run(p, batchFrom(ex));
      assert.ok(maxAbsDiff(logits.flat(), ex.logits.flat()) < 1e-4);
    } finally {
      p.model.dispose();
    }
  });

  test('errors: directory outside allowDirs, broken tokenizer, tokenizer larger than the embedding table', async () => {
    await assert.rejects(loadPretrained(TINY_BERT, { allowDirs: [tmp] }), (err: unknown) => err instanceof ModelSourceError && err.code === 'MODEL_SOURCE_NOT_ALLOWED');
    const d = join(tmp, 'bad-tokenizer');
    await mkdir(d, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(TINY_BERT, f), join(d, f));
    await writeFile(join(d, 'tokenizer.json'), '<html>rate limited</html>');
    await assert.rejects(loadPretrained(d, { allowDirs: [tmp] }), (err: unknown) => err instanceof TokenizerError && /bad-tokenizer\/tokenizer.json: not valid JSON/.test(err.message));
    const config = JSON.parse(await readFile(join(TINY_BERT, 'config.json'), 'utf8'));
    await writeFile(join(d, 'config.json'), JSON.stringify({ ...config, vocab_size: 1000 }));
    await copyFile(join(TINY_BERT, 'tokenizer.json'), join(d, 'tokenizer.json'));
    await assert.rejects(loadPretrained(d), /tokenizer.json: tokenizer has ids up to 30521, but the model's vocab_size is 1000/);
    assert.equal(tf.memory().numTensors, 0, 'failed loads leave no tensors');
  });
});
