// Quality of the strategies on GLUE with the shared bert-mini-hifi: for each task, `full` fine-tuning and the heads
// strategies (`hifi`, `random`, …) at k heads per layer, over several seeds: dev metric mean ± std (the task's
// main metric, plus the others), trainable parameters (% of the model), and wall time per run.
//
//   node --import tsx bench/quality.ts [--reduced] [--tasks sst2,mrpc,cola,rte,stsb]
//        [--configs full,hifi:1,hifi:2,hifi:4,random:1,random:2,random:4] [--seeds 1,2,3]
//        [--max-train-examples N] [--epochs E] [--max-length T] [--max-eval-examples N] [--batch-size B]
//        [--head-lr X] [--task-head-lr X] [--full-lr X] [--out FILE] [--continue] [--model DIR] [--data-dir DIR]
//
// --reduced = --max-train-examples 1000 --epochs 1 --max-length 64 --max-eval-examples 500 (a run of every task ×
// config × seed that fits in well under an hour on 2 shared cores). Without it, the full training sets, 3 epochs
// and length 128 are used (hours). Every run goes through runTrainingPipeline (analysis, selection, training,
// evaluation at the end of each epoch, best epoch kept), with checkpoints in memory and no exports.
// Results are appended to --out (default bench/results/quality[-reduced].json) after every run; --continue skips
// runs already in that file with the same settings. The table is printed at the end (and with --table-only FILE).
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MemoryCheckpointSink, runTrainingPipeline, type Hyperparameters, type TrainingStrategy } from '@hifi/trainer';

const SHARED = resolve(process.env.HIFI_SHARED ?? join(import.meta.dirname, '..', '..', 'shared'));
const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const flag = (name: string) => args.includes(`--${name}`);
const REDUCED = flag('reduced');
const num = (name: string, fallback?: number) => {
  const v = option(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${v}`);
  return n;
};

interface RunConfig { strategy: TrainingStrategy; k: number | null }
interface RunRecord {
  task: string;
  config: string;
  seed: number;
  metrics: Record<string, number>;
  main: number;
  mainMetric: string;
  trainablePercent: number;
  trainableParameters: number;
  wallSeconds: number;
  trainSeconds: number;
  steps: number;
  bestStep: number | null;
  heads: [number, number][];
}
interface ResultsFile { settings: Record<string, unknown>; runs: RunRecord[] }

function parseConfig(s: string): RunConfig {
  if (s === 'full') return { strategy: 'full', k: null };
  const m = /^(hifi|random|richness|correlation|all)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`--configs: "${s}" is not full or STRATEGY:K (e.g. hifi:2)`);
  return { strategy: m[1] as TrainingStrategy, k: m[2] === undefined ? null : Number(m[2]) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));

function table(file: ResultsFile): string {
  const tasks = [...new Set(file.runs.map((r) => r.task))];
  const configs = [...new Set(file.runs.map((r) => r.config))];
  const head = `| config | ${tasks.map((t) => `${t} (${file.runs.find((r) => r.task === t)!.mainMetric})`).join(' | ')} | trainable % | s/run (mean) |`;
  const rows = [head, `|---|${tasks.map(() => '---').join('|')}|---|---|`];
  for (const c of configs) {
    const cells = tasks.map((t) => {
      const xs = file.runs.filter((r) => r.task === t && r.config === c).map((r) => r.main);
      return xs.length === 0 ? '–' : `${(100 * mean(xs)).toFixed(1)} ± ${(100 * std(xs)).toFixed(1)} (n=${xs.length})`;
    });
    const runs = file.runs.filter((r) => r.config === c);
    rows.push(`| ${c} | ${cells.join(' | ')} | ${mean(runs.map((r) => r.trainablePercent)).toFixed(2)} | ${mean(runs.map((r) => r.wallSeconds)).toFixed(0)} |`);
  }
  const secondary = file.runs.some((r) => Object.keys(r.metrics).length > 2);
  if (secondary) {
    rows.push('', 'secondary metrics (mean over seeds):', '', '| config | task | metrics |', '|---|---|---|');
    for (const c of configs) for (const t of tasks) {
      const rs = file.runs.filter((r) => r.task === t && r.config === c);
      if (rs.length === 0 || Object.keys(rs[0].metrics).length <= 2) continue;
      const names = Object.keys(rs[0].metrics).filter((k) => k !== 'main');
      rows.push(`| ${c} | ${t} | ${names.map((n) => `${n} ${(100 * mean(rs.map((r) => r.metrics[n]))).toFixed(1)}`).join(', ')} |`);
    }
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const tableOnly = option('table-only');
  if (tableOnly) {
    console.log(table(JSON.parse(readFileSync(tableOnly, 'utf8')) as ResultsFile));
    return;
  }
  const tasks = (option('tasks') ?? 'sst2,mrpc,cola,rte,stsb').split(',');
  const configs = (option('configs') ?? 'full,hifi:1,hifi:2,hifi:4,random:1,random:2,random:4').split(',').map((s) => s.trim());
  const seeds = (option('seeds') ?? '1,2,3').split(',').map(Number);
  const model = option('model') ?? join(SHARED, 'models', 'bert-mini-hifi');
  const dataDir = option('data-dir') ?? join(SHARED, 'data', 'glue');
  const hp: Partial<Hyperparameters> = {
    maxTrainExamples: num('max-train-examples', REDUCED ? 1000 : 0),
    epochs: num('epochs', REDUCED ? 1 : 3),
    maxLength: num('max-length', REDUCED ? 64 : 128),
    maxEvalExamples: num('max-eval-examples', REDUCED ? 500 : 0),
    batchSize: num('batch-size', 32),
    ...(option('head-lr') ? { headLearningRate: num('head-lr') } : {}),
    ...(option('task-head-lr') ? { taskHeadLearningRate: num('task-head-lr') } : {}),
    ...(option('full-lr') ? { learningRate: num('full-lr') } : {}),
  };
  const settings = { model, hyperparameters: hp };
  const out = option('out') ?? join(import.meta.dirname, 'results', REDUCED ? 'quality-reduced.json' : 'quality.json');
  mkdirSync(join(out, '..'), { recursive: true });
  let file: ResultsFile = { settings, runs: [] };
  if (flag('continue') && existsSync(out)) {
    const prev = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
    if (JSON.stringify(prev.settings) !== JSON.stringify(settings)) throw new Error(`${out} holds runs with other settings; use another --out`);
    file = prev;
  }
  const total = tasks.length * configs.length * seeds.length;
  console.log(`quality: ${tasks.join(', ')} × ${configs.join(', ')} × seeds ${seeds.join(',')} = ${total} runs; ${JSON.stringify(hp)} (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  const started = performance.now();
  let done = 0;
  for (const task of tasks) for (const seed of seeds) for (const c of configs) {
    done++;
    if (file.runs.some((r) => r.task === task && r.config === c && r.seed === seed)) continue;
    const cfg = parseConfig(c);
    const outDir = mkdtempSync(join(tmpdir(), 'hifi-quality-'));
    try {
      const t0 = performance.now();
      const r = await runTrainingPipeline({
        model, task: `glue:${task}`, dataDir, strategy: cfg.strategy, budget: cfg.k === null ? undefined : { perLayer: cfg.k }, outDir,
        hyperparameters: { ...hp, seed }, exports: { adapter: false, merged: false },
      }, { checkpointSink: new MemoryCheckpointSink() });
      const m = r.metrics;
      const rec: RunRecord = {
        task, config: c, seed, metrics: (m.metrics ?? {}) as Record<string, number>, main: m.metrics?.main ?? Number.NaN, mainMetric: m.task.mainMetric,
        trainablePercent: m.trainablePercent, trainableParameters: m.trainableParameters, wallSeconds: (performance.now() - t0) / 1000,
        trainSeconds: m.seconds.train, steps: m.steps, bestStep: m.best?.step ?? null, heads: m.heads,
      };
      file.runs.push(rec);
      writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
      const elapsed = (performance.now() - started) / 1000;
      console.log(`[${done}/${total}] ${task} ${c} seed ${seed}: ${rec.mainMetric} ${(100 * rec.main).toFixed(2)} | ${rec.trainablePercent.toFixed(2)}% | ${rec.wallSeconds.toFixed(0)} s | elapsed ${(elapsed / 60).toFixed(1)} min`);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  console.log(`\n${table(file)}\n\nresults: ${out}; total ${((performance.now() - started) / 60000).toFixed(1)} min`);
}

await main();
