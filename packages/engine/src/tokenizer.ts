// Tokenizers for BERT (WordPiece) and RoBERTa (byte-level BPE), on top of @huggingface/tokenizers.
// The library splits text into subword ids; this module adds what the models need around that, the way the
// Hugging Face fast tokenizers do it: special tokens per model type, token type ids from the segments,
// longest-first truncation counting special tokens, and padding of a batch to its longest example.
//   BERT:    [CLS] A [SEP] B [SEP]     token types 0 … 0 1 … 1
//   RoBERTa: <s> A </s></s> B </s>      token types all 0
// Files read from a checkpoint directory: tokenizer.json if present (its WordPiece "model" may lack a "type",
// as in the published bert-base-uncased file; it is inferred), otherwise vocab.json + merges.txt (byte-level
// BPE) or vocab.txt (WordPiece), with tokenizer_config.json / special_tokens_map.json for token names.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import type { ModelConfig, ModelType } from './config.ts';
import { TokenizerError } from './errors.ts';
import type { EncodedBatch, EncodedExample, TokenizeOptions, Tokenizer } from './types.ts';

export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

type Json = Record<string, unknown>;

interface SpecialIds { cls: number; sep: number; pad: number }

/** Number of special tokens each layout adds: [single, pair]. */
const SPECIAL_COUNT: Record<ModelType, [number, number]> = { bert: [2, 3], roberta: [2, 4] };

/**
 * Lengths to keep of two segments so that together they fit `budget`, as the Hugging Face (Rust) LongestFirst
 * strategy does: the shorter segment is kept whole if it can be; otherwise both get half, the longer the odd token.
 */
export function longestFirstLengths(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long: number;
  long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [long, short] : [short, long];
}

export class EncoderTokenizer implements Tokenizer {
  readonly kind: 'wordpiece' | 'bpe';
  readonly padTokenId: number;
  readonly files: string[];
  readonly modelType: ModelType;
  readonly special: Readonly<SpecialIds>;
  private readonly lib: LibTokenizer;

  constructor(lib: LibTokenizer, opts: { kind: 'wordpiece' | 'bpe'; modelType: ModelType; special: SpecialIds; files: string[] }) {
    this.lib = lib;
    this.kind = opts.kind;
    this.modelType = opts.modelType;
    this.special = { ...opts.special };
    this.padTokenId = opts.special.pad;
    this.files = [...opts.files];
  }

  /** Subword ids of one text, without special tokens. */
  tokenIds(text: string): number[] {
    return this.lib.encode(text, { add_special_tokens: false }).ids;
  }

  /** Ids → text (special tokens skipped). */
  decode(ids: number[]): string {
    return ids.length === 0 ? '' : this.lib.decode(ids, { skip_special_tokens: true });
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  private cachedVocabSize?: number;

  /** One more than the largest token id (added tokens included): the embedding rows the ids need. */
  vocabSize(): number {
    if (this.cachedVocabSize === undefined) {
      let max = -1;
      for (const id of this.lib.get_vocab(true).values()) if (id > max) max = id;
      this.cachedVocabSize = max + 1;
    }
    return this.cachedVocabSize;
  }

  encode(text: string, textPair?: string | null, opts: TokenizeOptions = {}): EncodedExample {
    let a = this.tokenIds(text);
    let b = textPair === undefined || textPair === null ? null : this.tokenIds(textPair);
    if (opts.maxLength !== undefined) {
      const specials = SPECIAL_COUNT[this.modelType][b ? 1 : 0];
      const budget = opts.maxLength - specials;
      if (!Number.isInteger(opts.maxLength) || budget < (b ? 2 : 1)) {
        throw new RangeError(`maxLength ${opts.maxLength} leaves no room for text next to ${specials} special tokens`);
      }
      if (b) {
        const [la, lb] = longestFirstLengths(a.length, b.length, budget);
        a = a.slice(0, la);
        b = b.slice(0, lb);
      } else if (a.length > budget) {
        a = a.slice(0, budget);
      }
    }
    const { cls, sep } = this.special;
    if (this.modelType === 'bert') {
      const first = [cls, ...a, sep];
      const inputIds = b ? [...first, ...b, sep] : first;
      const tokenTypeIds = new Array<number>(inputIds.length).fill(0, 0, first.length).fill(1, first.length);
      return { inputIds, tokenTypeIds };
    }
    const inputIds = b ? [cls, ...a, sep, sep, ...b, sep] : [cls, ...a, sep];
    return { inputIds, tokenTypeIds: new Array<number>(inputIds.length).fill(0) };
  }

  encodeBatch(items: { text: string; textPair?: string | null }[], opts: TokenizeOptions = {}): EncodedBatch {
    const examples = items.map((it) => this.encode(it.text, it.textPair, opts));
    return padBatch(examples, this.padTokenId);
  }
}

/** Pads examples to the longest one: ids with `padId`, attention mask 1 for real tokens and 0 for padding. */
export function padBatch(examples: EncodedExample[], padId: number): EncodedBatch {
  const batchSize = examples.length;
  const seqLen = examples.reduce((m, e) => Math.max(m, e.inputIds.length), 0);
  const inputIds = new Int32Array(batchSize * seqLen).fill(padId);
  const attentionMask = new Int32Array(batchSize * seqLen);
  const tokenTypeIds = new Int32Array(batchSize * seqLen);
  examples.forEach((e, i) => {
    inputIds.set(e.inputIds, i * seqLen);
    attentionMask.fill(1, i * seqLen, i * seqLen + e.inputIds.length);
    tokenTypeIds.set(e.tokenTypeIds, i * seqLen);
  });
  return { batchSize, seqLen, inputIds, attentionMask, tokenTypeIds };
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

const isFile = (path: string): Promise<boolean> => stat(path).then((s) => s.isFile(), () => false);

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TokenizerError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(path, `not valid JSON (${(err as Error).message})`);
  }
}

async function readJsonObject(path: string): Promise<Json> {
  const json = await readJsonFile(path);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TokenizerError(path, 'expected a JSON object');
  return json as Json;
}

/** The model type of a tokenizer.json "model" object, inferred from its fields when "type" is absent. */
export function inferTokenizerModelType(model: Json): string | undefined {
  if (typeof model.type === 'string') return model.type;
  if (Array.isArray(model.vocab)) return 'Unigram';
  if (typeof model.vocab === 'object' && model.vocab !== null) {
    if (Array.isArray(model.merges)) return 'BPE';
    if ('continuing_subword_prefix' in model || 'max_input_chars_per_word' in model) return 'WordPiece';
  }
  return undefined;
}

/** A special token's name from tokenizer_config.json / special_tokens_map.json (a string or {content}). */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return undefined;
}

const DEFAULT_SPECIAL: Record<ModelType, { cls: string; sep: string; pad: string; unk: string; mask: string }> = {
  bert: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]' },
  roberta: { cls: '<s>', sep: '</s>', pad: '<pad>', unk: '<unk>', mask: '<mask>' },
};

function addedToken(id: number, content: string, lstrip = false): Json {
  return { id, content, special: true, single_word: false, lstrip, rstrip: false, normalized: false };
}

/** A byte-level BPE tokenizer.json (RoBERTa / GPT-2 style) built from vocab.json and merges.txt. */
export async function bpeTokenizerJson(vocabPath: string, mergesPath: string, modelType: ModelType): Promise<Json> {
  const vocab = await readJsonObject(vocabPath);
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id)) throw new TokenizerError(vocabPath, `id of token ${JSON.stringify(token)} must be an integer, got ${JSON.stringify(id)}`);
  }
  let text: string;
  try {
    text = await readFile(mergesPath, 'utf8');
  } catch (err) {
    throw new TokenizerError(mergesPath, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  const merges: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    if (line.split(' ').length !== 2) throw new TokenizerError(mergesPath, `line ${i + 1}: expected two space-separated symbols, got ${JSON.stringify(line.slice(0, 80))}`);
    merges.push(line);
  });
  const names = DEFAULT_SPECIAL[modelType];
  const added = [names.cls, names.pad, names.sep, names.unk, names.mask]
    .filter((t) => typeof vocab[t] === 'number')
    .map((t) => addedToken(vocab[t] as number, t, t === names.mask));
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: [names.sep, vocab[names.sep] ?? 2], cls: [names.cls, vocab[names.cls] ?? 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: typeof vocab[names.unk] === 'number' ? names.unk : null, continuing_subword_prefix: '',
      end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}

/** A BERT WordPiece tokenizer.json built from vocab.txt (one token per line, id = line number). */
export async function wordPieceTokenizerJson(vocabPath: string, lowercase: boolean): Promise<Json> {
  let text: string;
  try {
    text = await readFile(vocabPath, 'utf8');
  } catch (err) {
    throw new TokenizerError(vocabPath, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const vocab: Record<string, number> = {};
  lines.forEach((line, i) => { vocab[line.replace(/\r$/, '')] = i; });
  if (lines.length === 0) throw new TokenizerError(vocabPath, 'vocabulary is empty');
  const names = DEFAULT_SPECIAL.bert;
  const added = [names.pad, names.unk, names.cls, names.sep, names.mask].filter((t) => t in vocab).map((t) => addedToken(vocab[t], t));
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: names.unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/**
 * Loads the tokenizer of a checkpoint directory for a model of `config.modelType`. Errors name the file.
 */
export async function loadTokenizer(dir: string, config: Pick<ModelConfig, 'modelType' | 'padTokenId'>): Promise<EncoderTokenizer> {
  const path = (f: string) => join(dir, f);
  const present: string[] = [];
  for (const f of TOKENIZER_FILES) if (await isFile(path(f))) present.push(f);

  // Token names from tokenizer_config.json, then special_tokens_map.json, then the model type's defaults.
  const tokenizerConfig = present.includes('tokenizer_config.json') ? await readJsonObject(path('tokenizer_config.json')) : {};
  const specialMap = present.includes('special_tokens_map.json') ? await readJsonObject(path('special_tokens_map.json')) : {};
  const defaults = DEFAULT_SPECIAL[config.modelType];
  const nameOf = (key: 'cls' | 'sep' | 'pad') =>
    tokenName(tokenizerConfig[`${key}_token`]) ?? tokenName(specialMap[`${key}_token`]) ?? defaults[key];

  let json: Json;
  let source: string;
  if (present.includes('tokenizer.json')) {
    source = path('tokenizer.json');
    json = await readJsonObject(source);
    const model = json.model;
    if (typeof model !== 'object' || model === null || Array.isArray(model)) throw new TokenizerError(source, 'has no "model" object');
    const type = inferTokenizerModelType(model as Json);
    if (type === undefined) throw new TokenizerError(source, 'cannot tell the tokenizer model type: "model" has no "type" and its fields fit neither WordPiece nor BPE');
    // Copy rather than mutate, and fill the top-level keys the library insists on.
    json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json, model: { ...(model as Json), type } };
  } else if (present.includes('vocab.json') && present.includes('merges.txt')) {
    source = path('vocab.json');
    json = await bpeTokenizerJson(source, path('merges.txt'), config.modelType);
  } else if (present.includes('vocab.txt')) {
    source = path('vocab.txt');
    json = await wordPieceTokenizerJson(source, tokenizerConfig.do_lower_case !== false);
  } else {
    throw new TokenizerError(dir, 'no tokenizer files: expected tokenizer.json, vocab.json + merges.txt, or vocab.txt');
  }

  const type = (json.model as Json).type;
  if (type !== 'WordPiece' && type !== 'BPE') throw new TokenizerError(source, `tokenizer model type ${JSON.stringify(type)} is not supported (supported: WordPiece, BPE)`);
  let lib: LibTokenizer;
  try {
    lib = new LibTokenizer(json, tokenizerConfig);
  } catch (err) {
    throw new TokenizerError(source, `cannot build the tokenizer: ${(err as Error).message}`);
  }
  const idOf = (key: 'cls' | 'sep' | 'pad'): number => {
    const name = nameOf(key);
    const id = lib.token_to_id(name);
    if (id === undefined) {
      if (key === 'pad') return config.padTokenId;
      throw new TokenizerError(source, `special token ${JSON.stringify(name)} (${key}) is not in the vocabulary`);
    }
    return id;
  };
  return new EncoderTokenizer(lib, {
    kind: type === 'WordPiece' ? 'wordpiece' : 'bpe',
    modelType: config.modelType,
    special: { cls: idOf('cls'), sep: idOf('sep'), pad: idOf('pad') },
    files: present.map(path),
  });
}
