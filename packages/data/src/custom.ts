// Custom datasets uploaded by users: JSONL, CSV (RFC 4180) or TSV with the columns `text`, optional
// `text_pair`, and `label`. Rows are validated one by one; each rejected row is reported with its
// 1-based line and the reason. The task type and label set are inferred from the labels:
//
//   1. every label numeric (a JSON number, or text that reads as a decimal number such as "3", "-0.5",
//      "1e3") and at least one is not an integer → regression; no label set;
//   2. every label numeric and all integers → classification; the classes are the distinct values sorted
//      numerically (so labels 0..K-1 keep their ids), named by their decimal text ("0", "1", ...);
//   3. otherwise (some label is non-numeric text) → classification; the classes are the distinct label
//      texts (numbers written as decimal text) sorted by UTF-16 code units (JavaScript's default sort).
//
// The class id of a row is the index of its label in that sorted list. `taskType` in the options forces
// a type instead (e.g. integer scores 1..5 as regression).
import { extname } from 'node:path';
import { InvalidDatasetError, DatasetTooLargeError, type RejectedRow } from './errors.ts';
import type { TextExample } from './example.ts';
import { parseCsv, type CsvRecord } from './csv.ts';
import { Rng } from './rng.ts';
import { metricSpecFor, type MetricSpec, type TaskType } from './tasks.ts';
import { decodeUtf8, readTextFile } from './text-file.ts';
import { isBlankLine, splitLines, splitTsv } from './tsv.ts';

export type CustomFormat = 'jsonl' | 'csv' | 'tsv';

/** Default size limit for one custom dataset file: 100 MiB. */
export const DEFAULT_MAX_DATASET_BYTES = 100 * 1024 * 1024;
/** Default limit on the share of rejected rows before a 'skip' load fails anyway: 10%. */
export const DEFAULT_MAX_BAD_ROW_FRACTION = 0.1;

/** A row that passed validation, label not yet mapped to a class id. */
export interface ParsedRow {
  line: number;
  text: string;
  textPair: string | null;
  label: string | number;
}

export interface ParsedRows {
  rows: ParsedRow[];
  rejected: RejectedRow[];
}

/** Infers the format from a file name: .jsonl/.ndjson/.json → jsonl, .csv → csv, .tsv/.tab → tsv. */
export function inferFormat(fileName: string): CustomFormat {
  const ext = extname(fileName).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  throw new InvalidDatasetError(fileName, `cannot tell the format from the extension "${ext}"; use .jsonl, .csv or .tsv, or pass { format }`);
}

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A label cell or JSON value → number when it reads as a decimal number, else the trimmed text. */
function readLabel(value: string | number): string | number {
  if (typeof value === 'number') return value;
  const t = value.trim();
  return NUMERIC.test(t) ? Number(t) : t;
}

function parseJsonl(text: string): ParsedRows {
  const rows: ParsedRow[] = [];
  const rejected: RejectedRow[] = [];
  for (const { line, text: raw } of splitLines(text)) {
    if (raw.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      rejected.push({ line, reason: `invalid JSON: ${(err as Error).message}` });
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      rejected.push({ line, reason: 'expected a JSON object with "text" and "label"' });
      continue;
    }
    const rec = obj as Record<string, unknown>;
    const row = checkRow(line, rec.text, rec.text_pair, rec.label, rejected);
    if (row) rows.push(row);
  }
  return { rows, rejected };
}

/** Validates one row's values; pushes a rejection and returns null when invalid. */
function checkRow(line: number, text: unknown, pair: unknown, label: unknown, rejected: RejectedRow[]): ParsedRow | null {
  const reject = (reason: string) => { rejected.push({ line, reason }); return null; };
  if (text === undefined || text === null) return reject('missing "text"');
  if (typeof text !== 'string') return reject('"text" must be a string');
  if (text.trim() === '') return reject('empty "text"');
  let textPair: string | null = null;
  if (pair !== undefined && pair !== null) {
    if (typeof pair !== 'string') return reject('"text_pair" must be a string');
    if (pair.trim() === '') return reject('empty "text_pair"');
    textPair = pair;
  }
  if (label === undefined || label === null) return reject('missing "label"');
  if (typeof label === 'number') {
    if (!Number.isFinite(label)) return reject('"label" must be a finite number');
  } else if (typeof label !== 'string') {
    return reject('"label" must be a string or a number');
  } else if (label.trim() === '') {
    return reject('empty "label"');
  }
  return { line, text, textPair, label: readLabel(label) };
}

function parseDelimited(text: string, format: 'csv' | 'tsv', file: string): ParsedRows {
  const records: CsvRecord[] = format === 'csv' ? parseCsv(text) : splitTsv(text);
  const nonBlank = records.filter((r) => !isBlankLine(r.fields));
  if (nonBlank.length === 0) throw new InvalidDatasetError(file, 'empty file: expected a header row with "text" and "label"');
  const [header, ...body] = nonBlank;
  if (header.error) throw new InvalidDatasetError(file, `line ${header.line}: bad header: ${header.error}`);
  const names = header.fields.map((h) => h.trim().toLowerCase());
  const dup = names.find((n, i) => n !== '' && names.indexOf(n) !== i);
  if (dup) throw new InvalidDatasetError(file, `line ${header.line}: column "${dup}" appears twice in the header`);
  const textCol = names.indexOf('text');
  const pairCol = names.indexOf('text_pair');
  const labelCol = names.indexOf('label');
  const missing = [textCol < 0 ? '"text"' : '', labelCol < 0 ? '"label"' : ''].filter(Boolean);
  if (missing.length) {
    throw new InvalidDatasetError(file, `line ${header.line}: header has no ${missing.join(' or ')} column (found: ${header.fields.join(', ')}); expected text, label and optionally text_pair`);
  }
  const rows: ParsedRow[] = [];
  const rejected: RejectedRow[] = [];
  for (const rec of body) {
    if (rec.error) {
      rejected.push({ line: rec.line, reason: rec.error });
      continue;
    }
    if (rec.fields.length !== names.length) {
      const sep = format === 'csv' ? 'comma-separated' : 'tab-separated';
      rejected.push({ line: rec.line, reason: `expected ${names.length} ${sep} fields (as in the header), found ${rec.fields.length}` });
      continue;
    }
    const pair = pairCol >= 0 ? rec.fields[pairCol] : undefined;
    const row = checkRow(rec.line, rec.fields[textCol], pair, rec.fields[labelCol], rejected);
    if (row) rows.push(row);
  }
  return { rows, rejected };
}

/**
 * Parses custom-dataset text into validated rows and rejected rows. Throws InvalidDatasetError only for
 * problems with the whole file (no header, missing column).
 */
export function parseCustomRows(text: string, format: CustomFormat, file = '<upload>'): ParsedRows {
  if (format === 'jsonl') return parseJsonl(text);
  return parseDelimited(text, format, file);
}

export interface LabelSchema {
  taskType: TaskType;
  /** Sorted class names (classification); empty for regression. */
  labels: string[];
}

/** Infers the task type and label set from the labels (rules at the top of this file). */
export function inferLabelSchema(labels: readonly (string | number)[], taskType?: TaskType): LabelSchema {
  const allNumeric = labels.every((l) => typeof l === 'number');
  const type: TaskType = taskType ?? (allNumeric && labels.some((l) => !Number.isInteger(l)) ? 'regression' : 'classification');
  if (type === 'regression') return { taskType: type, labels: [] };
  if (allNumeric) {
    const distinct = [...new Set(labels as number[])].sort((a, b) => a - b);
    return { taskType: type, labels: distinct.map(String) };
  }
  return { taskType: type, labels: [...new Set(labels.map(String))].sort() };
}

/** Maps rows to examples under a schema; rows whose label does not fit are rejected. */
function toExamples(rows: ParsedRow[], schema: LabelSchema, rejected: RejectedRow[]): TextExample[] {
  const ids = new Map(schema.labels.map((l, i) => [l, i]));
  const out: TextExample[] = [];
  for (const r of rows) {
    let label: number;
    if (schema.taskType === 'regression') {
      if (typeof r.label !== 'number') {
        rejected.push({ line: r.line, reason: `label "${r.label}" is not a number (the task is regression)` });
        continue;
      }
      label = r.label;
    } else {
      const id = ids.get(String(r.label));
      if (id === undefined) {
        rejected.push({ line: r.line, reason: `label "${r.label}" is not one of the training labels (${schema.labels.join(', ')})` });
        continue;
      }
      label = id;
    }
    out.push({ text: r.text, textPair: r.textPair, label, line: r.line });
  }
  return out;
}

export interface CustomDatasetOptions {
  /** Format of the training file; inferred from its extension when absent. */
  format?: CustomFormat;
  /** A validation file (same columns); when absent, a seeded share of the training rows is held out. */
  validationFile?: string;
  /** Format of the validation file; inferred from its extension when absent. */
  validationFormat?: CustomFormat;
  /** Share of training rows held out for validation when there is no validation file (default 0.1). */
  validationFraction?: number;
  /** Seed of the held-out split (default 42). */
  seed?: number;
  /**
   * 'skip' (default): drop rejected rows, but still fail when more than maxBadRowFraction of a file's
   * rows are rejected; 'fail': any rejected row fails the load. Both fail when a file has no valid row.
   */
  onBadRows?: 'skip' | 'fail';
  /** Default DEFAULT_MAX_BAD_ROW_FRACTION (0.1). */
  maxBadRowFraction?: number;
  /** Size limit per file in bytes (default DEFAULT_MAX_DATASET_BYTES = 100 MiB). */
  maxBytes?: number;
  /** Force the task type instead of inferring it. */
  taskType?: TaskType;
}

export interface FileRejectedRow extends RejectedRow {
  file: string;
}

export interface CustomDataset extends MetricSpec {
  /** Class names, index = class id; empty for regression. */
  labels: string[];
  /** Classifier width: labels.length, or 1 for regression. */
  numLabels: number;
  train: TextExample[];
  validation: TextExample[];
  /** 'file' when a validation file was given, 'split' when held out from the training file. */
  validationSource: 'file' | 'split';
  isPair: boolean;
  rejected: FileRejectedRow[];
}

/** Applies the bad-row policy to one file; throws InvalidDatasetError when it is not met. */
function enforcePolicy(file: string, valid: number, rejected: RejectedRow[], onBadRows: 'skip' | 'fail', maxFraction: number): void {
  const total = valid + rejected.length;
  if (valid === 0) throw new InvalidDatasetError(file, total === 0 ? 'no data rows' : `no valid rows (${rejected.length} rejected)`, rejected);
  if (onBadRows === 'fail' && rejected.length > 0) {
    throw new InvalidDatasetError(file, `${rejected.length} of ${total} rows rejected and onBadRows is 'fail'`, rejected);
  }
  if (rejected.length / total > maxFraction) {
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    throw new InvalidDatasetError(file, `${rejected.length} of ${total} rows rejected (${pct(rejected.length / total)}), over the limit of ${pct(maxFraction)}`, rejected);
  }
}

/** Splits indices 0..n-1 into (train, validation) with a seeded permutation; both keep file order. */
export function splitHoldout(n: number, fraction: number, seed: number): { train: number[]; validation: number[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validationFraction must be in [0, 1), got ${fraction}`);
  let k = Math.round(n * fraction);
  if (fraction > 0 && n >= 2) k = Math.min(Math.max(k, 1), n - 1);
  const perm = new Rng(seed).permutation(n);
  const validation = perm.slice(0, k).sort((a, b) => a - b);
  const inVal = new Set(validation);
  const train = Array.from({ length: n }, (_, i) => i).filter((i) => !inVal.has(i));
  return { train, validation };
}

/**
 * Builds a custom dataset from already-read text (the API passes uploads here; loadCustomDataset reads
 * files). Throws InvalidDatasetError when the policy is not met or the labels are unusable.
 */
export function buildCustomDataset(
  train: { text: string; file: string; format: CustomFormat },
  validation: { text: string; file: string; format: CustomFormat } | null,
  opts: CustomDatasetOptions = {},
): CustomDataset {
  const onBadRows = opts.onBadRows ?? 'skip';
  const maxFraction = opts.maxBadRowFraction ?? DEFAULT_MAX_BAD_ROW_FRACTION;
  const parsed = parseCustomRows(train.text, train.format, train.file);
  const schema = inferLabelSchema(parsed.rows.map((r) => r.label), opts.taskType);
  const trainRejected = [...parsed.rejected];
  const trainExamples = toExamples(parsed.rows, schema, trainRejected);
  trainRejected.sort((a, b) => a.line - b.line);
  enforcePolicy(train.file, trainExamples.length, trainRejected, onBadRows, maxFraction);
  if (schema.taskType === 'classification' && schema.labels.length < 2) {
    throw new InvalidDatasetError(train.file, `classification needs at least 2 distinct labels, found ${schema.labels.length} (${schema.labels.join(', ')})`);
  }
  const rejected: FileRejectedRow[] = trainRejected.map((r) => ({ file: train.file, ...r }));

  let trainOut: TextExample[];
  let valOut: TextExample[];
  if (validation) {
    const vParsed = parseCustomRows(validation.text, validation.format, validation.file);
    const vRejected = [...vParsed.rejected];
    valOut = toExamples(vParsed.rows, schema, vRejected);
    vRejected.sort((a, b) => a.line - b.line);
    enforcePolicy(validation.file, valOut.length, vRejected, onBadRows, maxFraction);
    rejected.push(...vRejected.map((r) => ({ file: validation.file, ...r })));
    trainOut = trainExamples;
  } else {
    const { train: ti, validation: vi } = splitHoldout(trainExamples.length, opts.validationFraction ?? 0.1, opts.seed ?? 42);
    trainOut = ti.map((i) => trainExamples[i]);
    valOut = vi.map((i) => trainExamples[i]);
  }
  return {
    ...metricSpecFor(schema.taskType, schema.labels.length),
    labels: schema.labels,
    numLabels: schema.taskType === 'regression' ? 1 : schema.labels.length,
    train: trainOut,
    validation: valOut,
    validationSource: validation ? 'file' : 'split',
    isPair: trainOut.some((e) => e.textPair !== null),
    rejected,
  };
}

/** Loads a custom dataset from files (size limit, strict UTF-8, BOM removed). */
export async function loadCustomDataset(trainFile: string, opts: CustomDatasetOptions = {}): Promise<CustomDataset> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DATASET_BYTES;
  const format = opts.format ?? inferFormat(trainFile);
  const text = await readTextFile(trainFile, maxBytes);
  let validation: { text: string; file: string; format: CustomFormat } | null = null;
  if (opts.validationFile) {
    const vFormat = opts.validationFormat ?? inferFormat(opts.validationFile);
    validation = { text: await readTextFile(opts.validationFile, maxBytes), file: opts.validationFile, format: vFormat };
  }
  return buildCustomDataset({ text, file: trainFile, format }, validation, opts);
}

/** What validateDataset reports about an upload. */
export interface DatasetSummary {
  format: CustomFormat;
  /** Valid rows. */
  rows: number;
  /** Rejected rows, by line. */
  rejected: RejectedRow[];
  /** Inferred class names (sorted; empty for regression). */
  labels: string[];
  taskType: TaskType;
  /** Rows per class name (classification); empty for regression. */
  labelCounts: Record<string, number>;
  /** Smallest and largest target (regression), else null. */
  labelRange: { min: number; max: number } | null;
  isPair: boolean;
  /** Fields of each example: ["text", "label"] or ["text", "text_pair", "label"]. */
  columns: string[];
  /** False when loading with the given policy would fail; `problem` says why. */
  ok: boolean;
  problem?: string;
}

export interface ValidateDatasetOptions {
  maxBytes?: number;
  maxBadRowFraction?: number;
  onBadRows?: 'skip' | 'fail';
  taskType?: TaskType;
  /** Name used in messages (default "<upload>"). */
  fileName?: string;
}

/**
 * Checks an uploaded dataset without throwing for content problems: every rejected row with its line
 * and reason, the inferred labels and task type, and whether it would load (`ok`, `problem`).
 */
export function validateDataset(buffer: Uint8Array, format: CustomFormat, opts: ValidateDatasetOptions = {}): DatasetSummary {
  const file = opts.fileName ?? '<upload>';
  const empty: DatasetSummary = {
    format, rows: 0, rejected: [], labels: [], taskType: opts.taskType ?? 'classification', labelCounts: {}, labelRange: null, isPair: false,
    columns: ['text', 'label'], ok: false,
  };
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DATASET_BYTES;
  if (buffer.length > maxBytes) return { ...empty, problem: new DatasetTooLargeError(file, buffer.length, maxBytes).message };
  let parsed: ParsedRows;
  try {
    parsed = parseCustomRows(decodeUtf8(buffer, file), format, file);
  } catch (err) {
    if (err instanceof InvalidDatasetError) return { ...empty, problem: err.message };
    throw err;
  }
  const schema = inferLabelSchema(parsed.rows.map((r) => r.label), opts.taskType);
  const rejected = [...parsed.rejected];
  const examples = toExamples(parsed.rows, schema, rejected);
  rejected.sort((a, b) => a.line - b.line);
  const labelCounts: Record<string, number> = {};
  let labelRange: { min: number; max: number } | null = null;
  if (schema.taskType === 'classification') {
    for (const l of schema.labels) labelCounts[l] = 0;
    for (const e of examples) labelCounts[schema.labels[e.label as number]]++;
  } else if (examples.length > 0) {
    let min = Infinity;
    let max = -Infinity;
    for (const e of examples) {
      min = Math.min(min, e.label as number);
      max = Math.max(max, e.label as number);
    }
    labelRange = { min, max };
  }
  let problem: string | undefined;
  try {
    enforcePolicy(file, examples.length, rejected, opts.onBadRows ?? 'skip', opts.maxBadRowFraction ?? DEFAULT_MAX_BAD_ROW_FRACTION);
    if (schema.taskType === 'classification' && schema.labels.length < 2) {
      problem = `classification needs at least 2 distinct labels, found ${schema.labels.length}`;
    }
  } catch (err) {
    if (!(err instanceof InvalidDatasetError)) throw err;
    problem = err.message;
  }
  const isPair = examples.some((e) => e.textPair !== null);
  return {
    format, rows: examples.length, rejected, labels: schema.labels, taskType: schema.taskType, labelCounts, labelRange,
    isPair, columns: isPair ? ['text', 'text_pair', 'label'] : ['text', 'label'], ok: problem === undefined, ...(problem ? { problem } : {}),
  };
}
