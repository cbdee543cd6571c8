// Loading GLUE splits from the standard GLUE TSV layout (<dataDir>/<Task>/<split>.tsv).
import { join } from 'node:path';
import { InvalidDatasetError, type RejectedRow } from './errors.ts';
import type { TextExample } from './example.ts';
import { getTask, resolveSplit, type ColumnRef, type GlueSplit, type SplitLayout, type TaskSpec } from './tasks.ts';
import { readTextFile } from './text-file.ts';
import { isBlankLine, splitTsv } from './tsv.ts';

export interface GlueDataset {
  task: TaskSpec;
  split: GlueSplit;
  /** Absolute or dataDir-relative path of the file read. */
  file: string;
  examples: TextExample[];
  /** Rows left out, with the reason (missing fields, unknown label, blank line...). */
  skipped: RejectedRow[];
  /** False for test splits: every example's label is null. */
  hasLabels: boolean;
}

export interface LoadGlueOptions {
  /** Folder holding CoLA/, SST-2/, ... Defaults to the GLUE_DIR environment variable. */
  dataDir?: string;
}

/** The GLUE data directory from the option or GLUE_DIR; throws a clear error when neither is set. */
export function glueDataDir(dataDir?: string): string {
  const dir = dataDir ?? process.env.GLUE_DIR;
  if (!dir) throw new Error('GLUE data directory not set: pass { dataDir } or set the GLUE_DIR environment variable');
  return dir;
}

/** Path of a task's split file under the data directory. */
export function glueFilePath(task: string | TaskSpec, split: string, dataDir?: string): string {
  const spec = getTask(task);
  const layout = spec.splits[resolveSplit(spec, split)] as SplitLayout;
  return join(glueDataDir(dataDir), spec.dirName, layout.file);
}

/**
 * Loads one split of a GLUE task. `task` accepts "glue:sst2", "SST-2", "sst2"...; `split` accepts
 * train/dev/test (MNLI: dev_matched, dev_mismatched, test_matched, test_mismatched; plain dev = matched).
 */
export async function loadGlue(task: string | TaskSpec, split: string, opts: LoadGlueOptions = {}): Promise<GlueDataset> {
  const spec = getTask(task);
  const s = resolveSplit(spec, split);
  const file = glueFilePath(spec, s, opts.dataDir);
  const hint = `GLUE ${spec.displayName} ${s}; download it with downloadGlue('${spec.name}', dataDir) on a machine with internet`;
  const text = await readTextFile(file, Infinity, hint);
  return { ...parseGlueTsv(spec, s, text, file), task: spec, split: s, file };
}

/**
 * Parses the text of a GLUE split file (BOM already removed). Fields are split on tabs only; quotes are
 * literal. A row is skipped, with its line number and reason, when it has the wrong number of fields,
 * an empty text, or a label outside the task's label set (or a non-numeric STS-B score).
 */
export function parseGlueTsv(task: string | TaskSpec, split: string, text: string, file = '<text>'): Omit<GlueDataset, 'task' | 'split' | 'file'> {
  const spec = getTask(task);
  const layout = spec.splits[resolveSplit(spec, split)] as SplitLayout;
  const lines = splitTsv(text);
  let expected: number;
  let header: string[] = [];
  let body = lines;
  if (layout.hasHeader) {
    if (lines.length === 0) throw new InvalidDatasetError(file, 'empty file: expected a header row');
    header = lines[0].fields.map((h) => h.trim());
    expected = header.length;
    body = lines.slice(1);
  } else {
    expected = layout.columnCount ?? 0;
  }
  const col = (ref: ColumnRef | undefined, what: string): number => {
    if (ref === undefined) return -1;
    if (typeof ref === 'number') return ref;
    const i = header.indexOf(ref);
    if (i < 0) throw new InvalidDatasetError(file, `header has no "${ref}" column (${what}); header is: ${header.join(' | ')}`);
    return i;
  };
  const textCol = col(layout.text, 'text');
  const pairCol = col(layout.textPair, 'text pair');
  const labelCol = col(layout.label, 'label');
  const labelIndex = new Map(spec.labels.map((l, i) => [l, i]));

  const examples: TextExample[] = [];
  const skipped: RejectedRow[] = [];
  for (const { line, fields } of body) {
    if (isBlankLine(fields)) {
      skipped.push({ line, reason: 'blank line' });
      continue;
    }
    if (fields.length !== expected) {
      skipped.push({ line, reason: `expected ${expected} tab-separated fields, found ${fields.length}` });
      continue;
    }
    const a = fields[textCol];
    if (a.trim() === '') {
      skipped.push({ line, reason: 'empty text' });
      continue;
    }
    let b: string | null = null;
    if (pairCol >= 0) {
      b = fields[pairCol];
      if (b.trim() === '') {
        skipped.push({ line, reason: 'empty second text' });
        continue;
      }
    }
    let label: number | null = null;
    if (labelCol >= 0) {
      const raw = fields[labelCol].trim();
      if (spec.taskType === 'regression') {
        label = raw === '' ? NaN : Number(raw);
        if (!Number.isFinite(label)) {
          skipped.push({ line, reason: `score "${raw}" is not a number` });
          continue;
        }
      } else {
        const id = labelIndex.get(raw);
        if (id === undefined) {
          skipped.push({ line, reason: `label "${raw}" is not one of ${spec.labels.join(', ')}` });
          continue;
        }
        label = id;
      }
    }
    examples.push({ text: a, textPair: b, label, line });
  }
  return { examples, skipped, hasLabels: labelCol >= 0 };
}
