// The GLUE tasks a job can name as `glue:NAME`. Names are matched case-insensitively and without hyphens
// (`glue:sst2` is `glue:SST-2`); the canonical name is the GLUE directory name.

export interface GlueTaskInfo {
  /** Canonical name, equal to the GLUE data directory (e.g. `SST-2`). */
  name: string;
  /** 1 means regression (STS-B). */
  numLabels: number;
  /** Whether examples are sentence pairs. */
  pair: boolean;
  /** The metric the GLUE benchmark reports first for this task. */
  primaryMetric: 'accuracy' | 'f1' | 'matthews' | 'pearson';
}

export const GLUE_TASKS: readonly GlueTaskInfo[] = [
  { name: 'CoLA', numLabels: 2, pair: false, primaryMetric: 'matthews' },
  { name: 'SST-2', numLabels: 2, pair: false, primaryMetric: 'accuracy' },
  { name: 'MRPC', numLabels: 2, pair: true, primaryMetric: 'f1' },
  { name: 'STS-B', numLabels: 1, pair: true, primaryMetric: 'pearson' },
  { name: 'QQP', numLabels: 2, pair: true, primaryMetric: 'f1' },
  { name: 'MNLI', numLabels: 3, pair: true, primaryMetric: 'accuracy' },
  { name: 'QNLI', numLabels: 2, pair: true, primaryMetric: 'accuracy' },
  { name: 'RTE', numLabels: 2, pair: true, primaryMetric: 'accuracy' },
  { name: 'WNLI', numLabels: 2, pair: true, primaryMetric: 'accuracy' },
];

function squash(name: string): string {
  return name.toLowerCase().replaceAll('-', '');
}

/** Finds a GLUE task by name (`SST-2`, `sst2`, `sst-2`), or returns null. */
export function findGlueTask(name: string): GlueTaskInfo | null {
  const wanted = squash(name);
  return GLUE_TASKS.find((t) => squash(t.name) === wanted) ?? null;
}
