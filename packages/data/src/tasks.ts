// The GLUE tasks: where their files are, which columns hold the texts and the label, the label set,
// the task type and the metrics. One table; everything else (loader, metrics, downloader) reads it.
import { UnknownSplitError, UnknownTaskError } from './errors.ts';

export type TaskType = 'classification' | 'regression';
export type MetricName = 'accuracy' | 'f1' | 'matthews' | 'pearson' | 'spearman';
export type GlueTaskName = 'cola' | 'sst2' | 'mrpc' | 'stsb' | 'qqp' | 'mnli' | 'qnli' | 'rte' | 'wnli';
export type GlueSplit = 'train' | 'dev' | 'test' | 'dev_matched' | 'dev_mismatched' | 'test_matched' | 'test_mismatched';

/** A column, by header name (files with a header row) or by 0-based index (files without one). */
export type ColumnRef = string | number;

/** How one split file is laid out. */
export interface SplitLayout {
  /** File name inside the task folder, e.g. "dev_matched.tsv". */
  file: string;
  /** False only for CoLA train/dev, which start directly with data. */
  hasHeader: boolean;
  /** Field count of each row when there is no header (with a header, its field count is used). */
  columnCount?: number;
  text: ColumnRef;
  textPair?: ColumnRef;
  /** Absent for test splits, which have no labels. */
  label?: ColumnRef;
}

/** What metrics a task is scored with; also built for custom datasets (see metricSpecFor). */
export interface MetricSpec {
  taskType: TaskType;
  metrics: readonly MetricName[];
  mainMetric: MetricName;
}

export interface TaskSpec extends MetricSpec {
  name: GlueTaskName;
  /** The GLUE spelling, e.g. "SST-2". */
  displayName: string;
  /** Folder under the GLUE data directory (the name download_glue_data.py creates). */
  dirName: string;
  /**
   * Label values exactly as written in the GLUE files; the class id of a label is its index here.
   * Empty for regression (STS-B).
   */
  labels: readonly string[];
  /** Human-readable names in the same order (for reports and exported config.json id2label). */
  labelNames: readonly string[];
  /** Output width of the classifier: labels.length, or 1 for regression. */
  numLabels: number;
  /** Whether examples are sentence pairs. */
  isPair: boolean;
  splits: Readonly<Partial<Record<GlueSplit, SplitLayout>>>;
}

const headed = (file: string, text: string, textPair?: string, label?: string): SplitLayout => ({
  file, hasHeader: true, text, ...(textPair !== undefined ? { textPair } : {}), ...(label !== undefined ? { label } : {}),
});
const pairSplits = (a: string, b: string, label: string) => ({
  train: headed('train.tsv', a, b, label),
  dev: headed('dev.tsv', a, b, label),
  test: headed('test.tsv', a, b),
});
const binaryClassification = { taskType: 'classification' as const, numLabels: 2 };
const accuracyOnly = { metrics: ['accuracy'] as const, mainMetric: 'accuracy' as const };
const f1AndAccuracy = { metrics: ['f1', 'accuracy'] as const, mainMetric: 'f1' as const };

/**
 * The nine GLUE tasks. Label order follows the Hugging Face `glue` dataset, so class ids match published
 * checkpoints: for the 0/1 tasks the id is the number in the file (1 = the positive class for F1), RTE/QNLI
 * are entailment=0, not_entailment=1, MNLI is entailment=0, neutral=1, contradiction=2.
 *
 * Metric choices: CoLA → Matthews correlation. MRPC and QQP → F1 of class 1 (the main metric, as the
 * GLUE leaderboard lists F1 first and F1 is the score that moves with the paraphrase class) plus accuracy.
 * STS-B → Pearson (main) and Spearman; Pearson is the first number GLUE reports for STS-B. Others → accuracy.
 */
export const GLUE_TASKS: Readonly<Record<GlueTaskName, TaskSpec>> = {
  cola: {
    name: 'cola', displayName: 'CoLA', dirName: 'CoLA', ...binaryClassification, isPair: false,
    labels: ['0', '1'], labelNames: ['unacceptable', 'acceptable'],
    metrics: ['matthews', 'accuracy'], mainMetric: 'matthews',
    splits: {
      // No header: source, label, original label (only for unacceptable rows), sentence.
      train: { file: 'train.tsv', hasHeader: false, columnCount: 4, text: 3, label: 1 },
      dev: { file: 'dev.tsv', hasHeader: false, columnCount: 4, text: 3, label: 1 },
      test: headed('test.tsv', 'sentence'),
    },
  },
  sst2: {
    name: 'sst2', displayName: 'SST-2', dirName: 'SST-2', ...binaryClassification, isPair: false,
    labels: ['0', '1'], labelNames: ['negative', 'positive'], ...accuracyOnly,
    splits: { train: headed('train.tsv', 'sentence', undefined, 'label'), dev: headed('dev.tsv', 'sentence', undefined, 'label'), test: headed('test.tsv', 'sentence') },
  },
  mrpc: {
    name: 'mrpc', displayName: 'MRPC', dirName: 'MRPC', ...binaryClassification, isPair: true,
    labels: ['0', '1'], labelNames: ['not_equivalent', 'equivalent'], ...f1AndAccuracy,
    splits: pairSplits('#1 String', '#2 String', 'Quality'),
  },
  stsb: {
    name: 'stsb', displayName: 'STS-B', dirName: 'STS-B', taskType: 'regression', numLabels: 1, isPair: true,
    labels: [], labelNames: [], metrics: ['pearson', 'spearman'], mainMetric: 'pearson',
    splits: pairSplits('sentence1', 'sentence2', 'score'),
  },
  qqp: {
    name: 'qqp', displayName: 'QQP', dirName: 'QQP', ...binaryClassification, isPair: true,
    labels: ['0', '1'], labelNames: ['not_duplicate', 'duplicate'], ...f1AndAccuracy,
    splits: pairSplits('question1', 'question2', 'is_duplicate'),
  },
  mnli: {
    name: 'mnli', displayName: 'MNLI', dirName: 'MNLI', taskType: 'classification', numLabels: 3, isPair: true,
    labels: ['entailment', 'neutral', 'contradiction'], labelNames: ['entailment', 'neutral', 'contradiction'], ...accuracyOnly,
    splits: {
      train: headed('train.tsv', 'sentence1', 'sentence2', 'gold_label'),
      dev_matched: headed('dev_matched.tsv', 'sentence1', 'sentence2', 'gold_label'),
      dev_mismatched: headed('dev_mismatched.tsv', 'sentence1', 'sentence2', 'gold_label'),
      test_matched: headed('test_matched.tsv', 'sentence1', 'sentence2'),
      test_mismatched: headed('test_mismatched.tsv', 'sentence1', 'sentence2'),
    },
  },
  qnli: {
    name: 'qnli', displayName: 'QNLI', dirName: 'QNLI', ...binaryClassification, isPair: true,
    labels: ['entailment', 'not_entailment'], labelNames: ['entailment', 'not_entailment'], ...accuracyOnly,
    splits: pairSplits('question', 'sentence', 'label'),
  },
  rte: {
    name: 'rte', displayName: 'RTE', dirName: 'RTE', ...binaryClassification, isPair: true,
    labels: ['entailment', 'not_entailment'], labelNames: ['entailment', 'not_entailment'], ...accuracyOnly,
    splits: pairSplits('sentence1', 'sentence2', 'label'),
  },
  wnli: {
    name: 'wnli', displayName: 'WNLI', dirName: 'WNLI', ...binaryClassification, isPair: true,
    labels: ['0', '1'], labelNames: ['not_entailment', 'entailment'], ...accuracyOnly,
    splits: pairSplits('sentence1', 'sentence2', 'label'),
  },
};

export const GLUE_TASK_NAMES = Object.keys(GLUE_TASKS) as GlueTaskName[];
const GLUE_TASKS_DISPLAY = GLUE_TASK_NAMES.map((t) => GLUE_TASKS[t].displayName);

const TASK_ALIASES: Readonly<Record<string, GlueTaskName>> = {
  cola: 'cola', sst2: 'sst2', sst: 'sst2', mrpc: 'mrpc', stsb: 'stsb', sts: 'stsb', qqp: 'qqp',
  mnli: 'mnli', multinli: 'mnli', qnli: 'qnli', rte: 'rte', wnli: 'wnli',
};

/**
 * Resolves a task name case-insensitively, ignoring a "glue:" or "glue/" prefix and any "-", "_", "." or
 * spaces: "glue:sst2", "SST-2", "sst-2", "sst2", "STS-B", "sts_b" all work. Throws UnknownTaskError.
 */
export function resolveTaskName(name: string): GlueTaskName {
  const key = name.trim().toLowerCase().replace(/^glue[:/]/, '').replace(/[-_.\s]/g, '');
  const found = TASK_ALIASES[key];
  if (!found) throw new UnknownTaskError(name, GLUE_TASKS_DISPLAY);
  return found;
}

/** True when the name resolves to a GLUE task. */
export function isGlueTask(name: string): boolean {
  try {
    resolveTaskName(name);
    return true;
  } catch {
    return false;
  }
}

export function getTask(name: string | TaskSpec): TaskSpec {
  return typeof name === 'string' ? GLUE_TASKS[resolveTaskName(name)] : name;
}

const SPLIT_ALIASES: Readonly<Record<string, GlueSplit>> = {
  train: 'train', dev: 'dev', validation: 'dev', test: 'test',
  devmatched: 'dev_matched', validationmatched: 'dev_matched', devmismatched: 'dev_mismatched',
  validationmismatched: 'dev_mismatched', testmatched: 'test_matched', testmismatched: 'test_mismatched',
};

/**
 * Resolves a split name for a task ("validation" = "dev"). MNLI has no plain dev/test: "dev" means
 * dev_matched and "test" means test_matched (the split GLUE reports first); ask for *_mismatched explicitly.
 */
export function resolveSplit(task: TaskSpec, split: string): GlueSplit {
  const key = split.trim().toLowerCase().replace(/[-_.\s]/g, '');
  let s: GlueSplit | undefined = SPLIT_ALIASES[key];
  if (s && task.name === 'mnli') {
    if (s === 'dev') s = 'dev_matched';
    else if (s === 'test') s = 'test_matched';
  }
  if (!s || !task.splits[s]) throw new UnknownSplitError(task.displayName, split, Object.keys(task.splits));
  return s;
}

/**
 * The metrics for a custom dataset: regression → Pearson (main) and Spearman, as STS-B;
 * binary classification → accuracy (main) and F1 of class 1; more classes → accuracy.
 */
export function metricSpecFor(taskType: TaskType, numClasses: number): MetricSpec {
  if (taskType === 'regression') return { taskType, metrics: ['pearson', 'spearman'], mainMetric: 'pearson' };
  if (numClasses === 2) return { taskType, metrics: ['accuracy', 'f1'], mainMetric: 'accuracy' };
  return { taskType, metrics: ['accuracy'], mainMetric: 'accuracy' };
}
