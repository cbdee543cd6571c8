// GLUE metrics. Conventions for degenerate inputs (documented once, here):
//   - F1: when there are no positive labels and no positive predictions (2TP + FP + FN = 0), F1 is 0
//     (scikit-learn's zero_division=0).
//   - Matthews correlation: when a marginal is constant (all labels, or all predictions, one class) the
//     denominator is 0 and MCC is 0 (scikit-learn's convention).
//   - Pearson/Spearman: when either series is constant the correlation is undefined (NaN in SciPy);
//     here it is 0, meaning "no linear/monotonic relation", so results stay finite numbers and JSON-safe.
// All functions throw a RangeError for empty input or mismatched lengths.
import { getTask, type MetricName, type MetricSpec, type TaskSpec } from './tasks.ts';

type Numbers = ArrayLike<number>;

function checkPair(a: Numbers, b: Numbers, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what}: ${a.length} predictions for ${b.length} labels`);
  if (a.length === 0) throw new RangeError(`${what}: no examples`);
}

/** Fraction of predictions equal to the label. */
export function accuracy(predictions: Numbers, labels: Numbers): number {
  checkPair(predictions, labels, 'accuracy');
  let hit = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) hit++;
  return hit / labels.length;
}

/** Binary F1 of the positive class (default 1): 2TP / (2TP + FP + FN); 0 when that denominator is 0. */
export function f1Score(predictions: Numbers, labels: Numbers, positive = 1): number {
  checkPair(predictions, labels, 'f1');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === positive;
    const t = labels[i] === positive;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  const den = 2 * tp + fp + fn;
  return den === 0 ? 0 : (2 * tp) / den;
}

/**
 * Matthews correlation coefficient, multiclass form (Gorodkin 2004, as scikit-learn), which equals
 * (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)) for two classes:
 * (c·s − Σ_k p_k·t_k) / √((s² − Σ p_k²)(s² − Σ t_k²)) with c correct, s total, p_k/t_k predicted/true counts.
 */
export function matthewsCorrelation(predictions: Numbers, labels: Numbers): number {
  checkPair(predictions, labels, 'matthews');
  const predCount = new Map<number, number>();
  const trueCount = new Map<number, number>();
  let correct = 0;
  const s = labels.length;
  for (let i = 0; i < s; i++) {
    predCount.set(predictions[i], (predCount.get(predictions[i]) ?? 0) + 1);
    trueCount.set(labels[i], (trueCount.get(labels[i]) ?? 0) + 1);
    if (predictions[i] === labels[i]) correct++;
  }
  let pt = 0;
  let pp = 0;
  let tt = 0;
  for (const [k, p] of predCount) {
    pt += p * (trueCount.get(k) ?? 0);
    pp += p * p;
  }
  for (const t of trueCount.values()) tt += t * t;
  const den = Math.sqrt((s * s - pp) * (s * s - tt));
  return den === 0 ? 0 : (correct * s - pt) / den;
}

/** Pearson correlation; 0 when either series is constant (see the top of this file). */
export function pearson(x: Numbers, y: Numbers): number {
  checkPair(x, y, 'pearson');
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  // Clamp rounding just outside [-1, 1].
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, tied values getting the average of the ranks they span (SciPy's rankdata 'average'). */
export function rankAverage(values: Numbers): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const avg = (i + j) / 2 + 1; // positions i..j hold ranks i+1..j+1
    for (let k = i; k <= j; k++) ranks[order[k]] = avg;
    i = j + 1;
  }
  return ranks;
}

/** Spearman rank correlation: Pearson of the average ranks; 0 when either series is constant. */
export function spearman(x: Numbers, y: Numbers): number {
  checkPair(x, y, 'spearman');
  return pearson(rankAverage(x), rankAverage(y));
}

const METRIC_FUNCTIONS: Readonly<Record<MetricName, (p: Numbers, l: Numbers) => number>> = {
  accuracy,
  f1: (p, l) => f1Score(p, l, 1),
  matthews: matthewsCorrelation,
  pearson,
  spearman,
};

/** Every metric of the task, by name, plus `main` (the task's main metric, for model selection). */
export type MetricResult = Partial<Record<MetricName, number>> & { main: number };

/**
 * Scores predictions for a GLUE task (by name: "sst2", "glue:mrpc"...) or any MetricSpec (a TaskSpec,
 * or metricSpecFor(...) for a custom dataset). Classification: predictions and labels are class ids.
 * Regression: predicted and true values.
 */
export function computeMetrics(task: string | TaskSpec | MetricSpec, predictions: Numbers, labels: Numbers): MetricResult {
  const spec: MetricSpec = typeof task === 'string' ? getTask(task) : task;
  checkPair(predictions, labels, 'computeMetrics');
  const out: Partial<Record<MetricName, number>> = {};
  for (const m of spec.metrics) out[m] = METRIC_FUNCTIONS[m](predictions, labels);
  const main = out[spec.mainMetric] ?? METRIC_FUNCTIONS[spec.mainMetric](predictions, labels);
  return { ...out, main };
}

/**
 * Turns logits [n, numLabels] (row-major) into predictions: argmax class ids (first maximum wins) for
 * numLabels > 1, the single value for regression (numLabels = 1).
 */
export function predictionsFromLogits(logits: ArrayLike<number>, numLabels: number): Int32Array | Float32Array {
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new RangeError(`numLabels must be a positive integer, got ${numLabels}`);
  if (logits.length % numLabels !== 0) throw new RangeError(`${logits.length} logits is not a multiple of numLabels ${numLabels}`);
  const n = logits.length / numLabels;
  if (numLabels === 1) return Float32Array.from(logits);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < numLabels; k++) if (logits[i * numLabels + k] > logits[i * numLabels + best]) best = k;
    out[i] = best;
  }
  return out;
}
