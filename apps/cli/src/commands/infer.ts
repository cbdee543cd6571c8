// hifi infer: run a (merged or fine-tuned) sequence-classification model on texts or pre-tokenised inputs.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadPretrained, padBatch } from '@hifi/engine';
import type { EncodedExample, Pretrained } from '@hifi/engine';

export const summary = 'run a model on texts or tokenised inputs and print logits and labels';

const HELP = `usage: hifi infer --model <dir|hf:org/name[@rev]> (--text T [--pair P] | --inputs file.jsonl) [--json]
                  [--batch-size N] [--max-length N]

Each line of --inputs is {"text": ..., "text_pair": ...} or, already tokenised,
{"input_ids": [...], "attention_mask": [...], "token_type_ids": [...]}.
Prints one JSON object per input (--json) with "logits" and the predicted "label" (the config's id2label);
for a regression model (num_labels 1) "label" is the score.`;

/** One input as the user gave it. */
export type InferInput =
  | { kind: 'text'; text: string; textPair: string | null }
  | { kind: 'ids'; inputIds: number[]; attentionMask: number[] | null; tokenTypeIds: number[] | null };

export class InputError extends Error {
  readonly code = 'INVALID_INPUT';
}

function intArray(v: unknown, what: string, line: number): number[] {
  if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x))) throw new InputError(`line ${line}: "${what}" must be an array of integers`);
  return v as number[];
}

/** Parses a JSONL file of inputs; every bad line is an error naming its line number. */
export function parseInputs(text: string): InferInput[] {
  const inputs: InferInput[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let obj: unknown;
    try { obj = JSON.parse(raw); } catch { throw new InputError(`line ${line}: not valid JSON`); }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(`line ${line}: expected a JSON object`);
    const o = obj as Record<string, unknown>;
    if (o.input_ids !== undefined) {
      const inputIds = intArray(o.input_ids, 'input_ids', line);
      const attentionMask = o.attention_mask === undefined ? null : intArray(o.attention_mask, 'attention_mask', line);
      const tokenTypeIds = o.token_type_ids === undefined ? null : intArray(o.token_type_ids, 'token_type_ids', line);
      for (const [name, arr] of [['attention_mask', attentionMask], ['token_type_ids', tokenTypeIds]] as const) {
        if (arr && arr.length !== inputIds.length) throw new InputError(`line ${line}: "${name}" has ${arr.length} entries, "input_ids" has ${inputIds.length}`);
      }
      inputs.push({ kind: 'ids', inputIds, attentionMask, tokenTypeIds });
    } else if (typeof o.text === 'string') {
      const pair = o.text_pair;
      if (pair !== undefined && pair !== null && typeof pair !== 'string') throw new InputError(`line ${line}: "text_pair" must be a string or null`);
      inputs.push({ kind: 'text', text: o.text, textPair: (pair as string | null | undefined) ?? null });
    } else {
      throw new InputError(`line ${line}: needs "text" (string) or "input_ids" (array)`);
    }
  });
  return inputs;
}

export interface Prediction {
  logits: number[];
  label: string | number;
  /** Softmax probabilities (classification only). */
  probabilities?: number[];
}

/** Encodes one chunk of inputs into a padded batch. Pre-tokenised inputs keep their own attention mask. */
function encodeChunk(p: Pretrained, chunk: InferInput[], maxLength: number) {
  const examples: EncodedExample[] = [];
  const masks: (number[] | null)[] = [];
  for (const input of chunk) {
    if (input.kind === 'text') {
      examples.push(p.tokenizer.encode(input.text, input.textPair, { maxLength }));
      masks.push(null);
    } else {
      if (input.inputIds.length > p.maxLength) throw new InputError(`an input has ${input.inputIds.length} tokens; the model allows ${p.maxLength}`);
      const bad = input.inputIds.find((id) => id < 0 || id >= p.config.vocabSize);
      if (bad !== undefined) throw new InputError(`token id ${bad} is outside the vocabulary (0..${p.config.vocabSize - 1})`);
      examples.push({ inputIds: input.inputIds, tokenTypeIds: input.tokenTypeIds ?? input.inputIds.map(() => 0) });
      masks.push(input.attentionMask);
    }
  }
  const batch = padBatch(examples, p.tokenizer.padTokenId);
  masks.forEach((m, b) => { if (m) m.forEach((v, t) => { batch.attentionMask[b * batch.seqLen + t] = v; }); });
  return batch;
}

/** Runs the model over the inputs in batches and returns one prediction per input, in order. */
export async function predict(p: Pretrained, inputs: InferInput[], opts: { batchSize?: number; maxLength?: number } = {}): Promise<Prediction[]> {
  const batchSize = opts.batchSize ?? 32;
  const maxLength = Math.min(opts.maxLength ?? p.maxLength, p.maxLength);
  const regression = p.config.problemType === 'regression';
  const out: Prediction[] = [];
  for (let i = 0; i < inputs.length; i += batchSize) {
    const batch = encodeChunk(p, inputs.slice(i, i + batchSize), maxLength);
    const logitsT = tf.tidy(() => p.model.forward(batch).logits!);
    const logits = (await logitsT.array()) as number[][];
    logitsT.dispose();
    for (const row of logits) {
      if (regression) { out.push({ logits: row, label: row[0] }); continue; }
      const max = Math.max(...row);
      const exps = row.map((v) => Math.exp(v - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      const best = row.indexOf(max);
      out.push({ logits: row, label: p.config.id2label[best] ?? String(best), probabilities: exps.map((e) => e / sum) });
    }
    await new Promise(setImmediate);
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      pair: { type: 'string' },
      inputs: { type: 'string' },
      json: { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      'max-length': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) { console.log(HELP); return 0; }
  if (!values.model) { console.error(`hifi infer: --model is required\n\n${HELP}`); return 2; }
  if ((values.text === undefined) === (values.inputs === undefined)) { console.error(`hifi infer: give exactly one of --text or --inputs\n\n${HELP}`); return 2; }
  const inputs: InferInput[] = values.inputs !== undefined
    ? parseInputs(await readFile(values.inputs, 'utf8'))
    : [{ kind: 'text', text: values.text!, textPair: values.pair ?? null }];
  const positive = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`--${name} must be a positive integer`);
    return n;
  };
  const batchSize = positive(values['batch-size'], 'batch-size');
  const maxLength = positive(values['max-length'], 'max-length');
  const pretrained = await loadPretrained(values.model);
  try {
    const predictions = await predict(pretrained, inputs, { batchSize, maxLength });
    for (const [i, pr] of predictions.entries()) {
      if (values.json) console.log(JSON.stringify(pr));
      else console.log(`${i}\t${pr.label}\t${pr.logits.map((v) => v.toFixed(4)).join(' ')}`);
    }
  } finally {
    pretrained.model.dispose();
  }
  return 0;
}
