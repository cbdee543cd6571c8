import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadTokenizer, longestFirstLengths } from './tokenizer.ts';
import { TokenizerError } from './errors.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
const TINY_BERT = join(SHARED, 'fixtures/tiny-bert');
const TINY_ROBERTA = join(SHARED, 'fixtures/tiny-roberta');
const BERT_BASE_TOK = join(SHARED, 'data/tokenizers/bert-base-uncased');
const ROBERTA_BASE_TOK = join(SHARED, 'data/tokenizers/roberta-base');
const BERT = { modelType: 'bert' as const, padTokenId: 0 };
const ROBERTA = { modelType: 'roberta' as const, padTokenId: 1 };

interface Expected {
  texts: { text: string; text_pair: string | null }[];
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}
let expected: Expected;
let tmp: string;
let robertaVocab: Record<string, number>;
before(async () => {
  expected = JSON.parse(await readFile(join(TINY_BERT, 'expected.json'), 'utf8'));
  robertaVocab = JSON.parse(await readFile(join(ROBERTA_BASE_TOK, 'vocab.json'), 'utf8'));
  tmp = await mkdtemp(join(tmpdir(), 'hifi-tokenizer-'));
});
after(async () => { await rm(tmp, { recursive: true, force: true }); });

async function assertReproducesExpected(dir: string): Promise<void> {
  const tok = await loadTokenizer(dir, BERT);
  const batch = tok.encodeBatch(expected.texts.map((t) => ({ text: t.text, textPair: t.text_pair })));
  assert.equal(batch.batchSize, expected.input_ids.length);
  assert.equal(batch.seqLen, expected.input_ids[0].length);
  assert.deepEqual(Array.from(batch.inputIds), expected.input_ids.flat());
  assert.deepEqual(Array.from(batch.attentionMask), expected.attention_mask.flat());
  assert.deepEqual(Array.from(batch.tokenTypeIds), expected.token_type_ids.flat());
}

describe('BERT WordPiece', () => {
  test('tiny-bert tokenizer.json (model without "type") reproduces expected.json exactly', async () => {
    const tok = await loadTokenizer(TINY_BERT, BERT);
    assert.equal(tok.kind, 'wordpiece');
    assert.equal(tok.padTokenId, 0);
    assert.deepEqual(tok.special, { cls: 101, sep: 102, pad: 0 });
    assert.deepEqual(tok.files, [join(TINY_BERT, 'tokenizer.json'), join(TINY_BERT, 'vocab.txt')]);
    await assertReproducesExpected(TINY_BERT);
  });

  test('the shared bert-base-uncased tokenizer.json gives the same ids', async () => {
    await assertReproducesExpected(BERT_BASE_TOK);
  });

  test('a directory with only vocab.txt builds the same WordPiece tokenizer', async () => {
    const d = join(tmp, 'vocab-only');
    await mkdir(d, { recursive: true });
    await copyFile(join(BERT_BASE_TOK, 'vocab.txt'), join(d, 'vocab.txt'));
    await assertReproducesExpected(d);
  });

  test('single-text truncation counts the special tokens', async () => {
    const tok = await loadTokenizer(TINY_BERT, BERT);
    const full = expected.input_ids[0].filter((_, i) => expected.attention_mask[0][i] === 1);
    const cut = tok.encode(expected.texts[0].text, null, { maxLength: 8 });
    assert.deepEqual(cut.inputIds, [...full.slice(0, 7), 102]);
    assert.deepEqual(cut.tokenTypeIds, new Array(8).fill(0));
    // no truncation when it fits
    assert.deepEqual(tok.encode(expected.texts[0].text, null, { maxLength: 100 }).inputIds, full);
    assert.throws(() => tok.encode('hello', null, { maxLength: 2 }), /maxLength 2 leaves no room/);
  });

  test('pair truncation is longest-first and token types follow the segments', async () => {
    const tok = await loadTokenizer(TINY_BERT, BERT);
    const ids = expected.input_ids[4]; // [CLS] A(12) [SEP] B(5) [SEP]
    const a = ids.slice(1, 13);
    const b = ids.slice(14, 19);
    const { text, text_pair } = expected.texts[4];
    // budget 12 - 3 = 9: the shorter B would keep 5 but then A gets only 4 < 5, so both are halved: A 5, B 4.
    const cut = tok.encode(text, text_pair, { maxLength: 12 });
    assert.deepEqual(cut.inputIds, [101, ...a.slice(0, 5), 102, ...b.slice(0, 4), 102]);
    assert.deepEqual(cut.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    // budget 15 - 3 = 12: B is kept whole (5), A gets the remaining 7
    const cut2 = tok.encode(text, text_pair, { maxLength: 15 });
    assert.deepEqual(cut2.inputIds, [101, ...a.slice(0, 7), 102, ...b, 102]);
    const batch = tok.encodeBatch([{ text, textPair: text_pair }, { text: 'short' }], { maxLength: 12 });
    assert.equal(batch.seqLen, 12);
    assert.deepEqual(Array.from(batch.inputIds.subarray(12)), [101, 2460, 102, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(batch.attentionMask.subarray(12)), [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test('longestFirstLengths matches the Hugging Face LongestFirst strategy', () => {
    assert.deepEqual(longestFirstLengths(3, 4, 10), [3, 4]);
    assert.deepEqual(longestFirstLengths(3, 10, 8), [3, 5]);
    assert.deepEqual(longestFirstLengths(10, 3, 8), [5, 3]);
    assert.deepEqual(longestFirstLengths(5, 5, 7), [3, 4]);
    assert.deepEqual(longestFirstLengths(12, 6, 9), [5, 4]);
    assert.deepEqual(longestFirstLengths(10, 10, 7), [3, 4]);
    assert.deepEqual(longestFirstLengths(0, 10, 4), [0, 4]);
  });
});

describe('RoBERTa byte-level BPE', () => {
  test('built from vocab.json + merges.txt: hand-checked encodings', async () => {
    const tok = await loadTokenizer(ROBERTA_BASE_TOK, ROBERTA);
    assert.equal(tok.kind, 'bpe');
    assert.deepEqual(tok.special, { cls: 0, sep: 2, pad: 1 });
    const v = robertaVocab;
    assert.deepEqual(tok.encode('Hello world').inputIds, [0, 31414, 232, 2]);
    assert.deepEqual([v.Hello, v['Ġworld']], [31414, 232]);
    // pair: <s> A </s></s> B </s>, token types all 0
    const pair = tok.encode('Hello world', 'How are you?');
    assert.deepEqual(pair.inputIds, [0, v.Hello, v['Ġworld'], 2, 2, v.How, v['Ġare'], v['Ġyou'], v['?'], 2]);
    assert.deepEqual(pair.inputIds, [0, 31414, 232, 2, 2, 6179, 32, 47, 116, 2]);
    assert.deepEqual(pair.tokenTypeIds, new Array(10).fill(0));
    // bytes of non-ASCII characters map to the GPT-2 byte alphabet (ï = C3 AF → "Ã¯", é = C3 A9 → "Ã©")
    assert.deepEqual(tok.encode('a naïve café').inputIds, [0, v.a, v['ĠnaÃ¯ve'], v['ĠcafÃ©'], 2]);
    // no prefix space is added; a run of spaces leaves a lone "Ġ" before the next word
    assert.deepEqual(tok.encode('Hello  world').inputIds, [0, v.Hello, v['Ġ'], v['Ġworld'], 2]);
    assert.deepEqual(tok.encode(' Hello').inputIds, [0, v['ĠHello'], 2]);
    // a word not in the vocabulary is split by the merges into known pieces that decode back to it
    const rare = tok.tokenIds(' antidisestablishmentarianism');
    assert.ok(rare.length > 1);
    assert.equal(tok.decode(rare), ' antidisestablishmentarianism');
  });

  test('tiny-roberta fixture: batch pads with <pad> = 1 and masks the padding', async () => {
    const tok = await loadTokenizer(TINY_ROBERTA, ROBERTA);
    const batch = tok.encodeBatch([{ text: 'Hello world' }, { text: 'Hello world', textPair: 'How are you?' }]);
    assert.equal(batch.seqLen, 10);
    assert.deepEqual(Array.from(batch.inputIds.subarray(0, 10)), [0, 31414, 232, 2, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(Array.from(batch.attentionMask.subarray(0, 10)), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    assert.ok(batch.tokenTypeIds.every((x) => x === 0));
    // pair truncation with four special tokens: budget 8 - 4 = 4 → 2 + 2
    assert.deepEqual(tok.encode('Hello world', 'How are you?', { maxLength: 8 }).inputIds, [0, 31414, 232, 2, 2, 6179, 32, 2]);
  });
});

describe('tokenizer errors name the file and the problem', () => {
  test('a tokenizer.json that is not JSON', async () => {
    const d = join(tmp, 'bad-json');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'tokenizer.json'), '{"model": {"vocab": ');
    await assert.rejects(loadTokenizer(d, BERT), (err: unknown) => {
      assert.ok(err instanceof TokenizerError);
      assert.equal(err.code, 'INVALID_TOKENIZER');
      assert.ok(err.message.startsWith(join(d, 'tokenizer.json')), err.message);
      assert.match(err.message, /not valid JSON/);
      return true;
    });
  });

  test('a tokenizer.json whose model type cannot be inferred', async () => {
    const d = join(tmp, 'no-type');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'tokenizer.json'), JSON.stringify({ model: { vocab: { a: 0 } } }));
    await assert.rejects(loadTokenizer(d, BERT), /no-type\/tokenizer.json: cannot tell the tokenizer model type/);
  });

  test('a vocab.json that is not JSON, a malformed merges.txt, a missing directory of files', async () => {
    const d = join(tmp, 'bad-bpe');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'vocab.json'), 'not json');
    await writeFile(join(d, 'merges.txt'), '#version: 0.2\nĠ t\n');
    await assert.rejects(loadTokenizer(d, ROBERTA), /bad-bpe\/vocab.json: not valid JSON/);
    await writeFile(join(d, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, 'Ġ': 3, t: 4 }));
    await writeFile(join(d, 'merges.txt'), '#version: 0.2\nĠ t\nbroken\n');
    await assert.rejects(loadTokenizer(d, ROBERTA), /bad-bpe\/merges.txt: line 3: expected two space-separated symbols/);
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    await assert.rejects(loadTokenizer(empty, BERT), /empty: no tokenizer files/);
  });

  test('a tokenizer_config.json that is not JSON', async () => {
    const d = join(tmp, 'bad-config');
    await mkdir(d, { recursive: true });
    await copyFile(join(BERT_BASE_TOK, 'vocab.txt'), join(d, 'vocab.txt'));
    await writeFile(join(d, 'tokenizer_config.json'), '{');
    await assert.rejects(loadTokenizer(d, BERT), /bad-config\/tokenizer_config.json: not valid JSON/);
  });
});
