// hifi analyze: rank the attention heads of a frozen model on a sample of a task's training examples (HiFi: information
// richness + correlation graphs + PageRank), select heads under a budget and write
//   heads.json       the head report (@hifi/hifi HeadReport)
//   head_mask.json   the selected heads (@hifi/hifi HeadMaskFile)
//   graph.gexf       every layer's head graph (nodes = heads, edges = mean RV correlation)
//   heads.svg        a heat map of the scores with the selected heads marked
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { collate, getTask, isGlueTask, loadCustomDataset, loadGlue, sample, UnknownTaskError, GLUE_TASK_NAMES, type TextExample, type TokenizedExample } from '@hifi/data';
import { loadPretrained, type EncodedBatch, type Pretrained } from '@hifi/engine';
import {
  analyzeHeads, DEFAULT_BUDGET, headGraphsToGexf, headHeatmapSvg, reportGrid, SELECTION_STRATEGIES,
  type HeadAnalysis, type SelectionBudget, type SelectionStrategy,
} from '@hifi/hifi';
import { baseModelFingerprint } from '@hifi/trainer/base-fingerprint.ts';

export const summary = 'rank the attention heads of a model on a task; write heads.json, head_mask.json, graph.gexf, heads.svg';

const HELP = `usage: hifi analyze --model <dir|hf:org/name[@rev]> --task <glue:NAME|file.jsonl|.csv|.tsv> --out DIR [options]

  --data-dir DIR          GLUE data directory (default: $GLUE_DIR)
  --samples N             training examples to analyse, sampled with --seed (default 256)
  --heads-per-layer K     select K heads in every layer (default ${'perLayer' in DEFAULT_BUDGET ? DEFAULT_BUDGET.perLayer : 3})
  --total-heads N         or select N heads over the whole model
  --strategy S            ${SELECTION_STRATEGIES.join(' | ')} (default hifi)
  --seed S                seed of the sample and of the random strategy (default 0)
  --batch-size B          examples per forward pass (default 32); batches group similar lengths
  --max-length L          truncate each example to L tokens, special tokens included (default 128)

Writes DIR/heads.json, DIR/head_mask.json, DIR/graph.gexf and DIR/heads.svg.`;

export class UsageError extends Error {
  readonly code = 'USAGE';
}

export interface AnalyzeCommandOptions {
  model: string;
  task: string;
  out: string;
  dataDir?: string;
  samples: number;
  budget: SelectionBudget;
  strategy: SelectionStrategy;
  seed: number;
  batchSize: number;
  maxLength: number;
}

function integer(v: string | undefined, name: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** Parses and validates the command line; throws UsageError naming the bad option. */
export function parseAnalyzeArgs(argv: string[]): AnalyzeCommandOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, task: { type: 'string' }, out: { type: 'string' }, 'data-dir': { type: 'string' },
        samples: { type: 'string' }, 'heads-per-layer': { type: 'string' }, 'total-heads': { type: 'string' },
        strategy: { type: 'string' }, seed: { type: 'string' }, 'batch-size': { type: 'string' }, 'max-length': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  for (const req of ['model', 'task', 'out'] as const) if (!values[req]) throw new UsageError(`--${req} is required`);
  if (values['heads-per-layer'] !== undefined && values['total-heads'] !== undefined) throw new UsageError('give at most one of --heads-per-layer and --total-heads');
  const strategy = (values.strategy ?? 'hifi') as SelectionStrategy;
  if (!SELECTION_STRATEGIES.includes(strategy)) throw new UsageError(`--strategy must be one of ${SELECTION_STRATEGIES.join(', ')}, got ${JSON.stringify(values.strategy)}`);
  const budget: SelectionBudget = values['total-heads'] !== undefined
    ? { total: integer(values['total-heads'], 'total-heads', 0, 0) }
    : values['heads-per-layer'] !== undefined ? { perLayer: integer(values['heads-per-layer'], 'heads-per-layer', 0, 0) } : DEFAULT_BUDGET;
  return {
    model: values.model!,
    task: values.task!,
    out: values.out!,
    dataDir: values['data-dir'],
    samples: integer(values.samples, 'samples', 1, 256),
    budget,
    strategy,
    seed: integer(values.seed, 'seed', 0, 0),
    batchSize: integer(values['batch-size'], 'batch-size', 1, 32),
    maxLength: integer(values['max-length'], 'max-length', 2, 128),
  };
}

const DATASET_EXTENSIONS = ['.jsonl', '.csv', '.tsv'];

/**
 * The training examples of `--task`: a GLUE task ("glue:sst2", or a bare GLUE name such as "SST-2") read from the
 * data directory, or a custom JSONL/CSV/TSV file (its training part: all rows, less the seeded validation hold-out
 * when the file has no separate validation file).
 */
export async function loadTaskExamples(task: string, dataDir?: string): Promise<{ name: string; examples: TextExample[] }> {
  if (/^glue[:/]/i.test(task) || isGlueTask(task)) {
    const spec = getTask(task); // UnknownTaskError names the known tasks
    if (!dataDir && !process.env.GLUE_DIR) throw new UsageError('GLUE data directory not set: pass --data-dir DIR or set the GLUE_DIR environment variable');
    const ds = await loadGlue(spec, 'train', { dataDir });
    return { name: `glue:${spec.name}`, examples: ds.examples };
  }
  if (!existsSync(task) && !DATASET_EXTENSIONS.includes(extname(task).toLowerCase())) {
    throw new UnknownTaskError(task, [...GLUE_TASK_NAMES.map((t) => `glue:${t}`), 'or a .jsonl/.csv/.tsv file']);
  }
  const ds = await loadCustomDataset(task);
  return { name: `file:${task}`, examples: ds.train };
}

/**
 * Padded batches of at most `batchSize` examples, the examples sorted by length first (stable), so each batch pads to
 * a similar length and little of the forward pass is spent on padding.
 */
export function lengthSortedBatches(examples: readonly TokenizedExample[], batchSize: number, padId: number): EncodedBatch[] {
  const order = examples.map((_, i) => i).sort((a, b) => examples[a].inputIds.length - examples[b].inputIds.length || a - b);
  const batches: EncodedBatch[] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const { batchSize: B, seqLen, inputIds, attentionMask, tokenTypeIds } = collate(examples, order.slice(i, i + batchSize), { padId });
    batches.push({ batchSize: B, seqLen, inputIds, attentionMask, tokenTypeIds });
  }
  return batches;
}

/** Tokenises texts with the model's tokenizer, truncated to maxLength (labels are not needed for the analysis). */
export function tokenizeForAnalysis(p: Pretrained, texts: readonly TextExample[], maxLength: number): TokenizedExample[] {
  return texts.map((e) => {
    const enc = p.tokenizer.encode(e.text, e.textPair, { maxLength });
    return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: 0 };
  });
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** The four output files of an analysis. */
export async function writeAnalysisOutputs(outDir: string, analysis: HeadAnalysis, title: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: [string, string][] = [
    ['heads.json', `${JSON.stringify(analysis.report, null, 2)}\n`],
    ['head_mask.json', `${JSON.stringify(analysis.mask, null, 2)}\n`],
    ['graph.gexf', headGraphsToGexf(analysis.ranking.layers.map((l) => l.graph), { scores: analysis.ranking.scores, mask: analysis.mask.mask, pretty: true })],
    ['heads.svg', headHeatmapSvg({ ...reportGrid(analysis.report), title })],
  ];
  for (const [name, text] of files) await writeFileAtomic(join(outDir, name), text);
  return files.map(([name]) => name);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export async function run(argv: string[]): Promise<number> {
  let opts: AnalyzeCommandOptions | 'help';
  try {
    opts = parseAnalyzeArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`hifi analyze: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (opts === 'help') { console.log(HELP); return 0; }
  const outDir = resolve(opts.out);
  const t0 = performance.now();
  // The data first: a bad task or file fails before the (slower) model load.
  const task = await loadTaskExamples(opts.task, opts.dataDir);
  if (task.examples.length === 0) throw new Error(`${task.name} has no training examples`);
  const p = await loadPretrained(opts.model);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const loadMs = performance.now() - t0;
    const t1 = performance.now();
    const maxLength = Math.min(opts.maxLength, p.maxLength);
    const sampled = sample(task.examples, opts.samples, opts.seed);
    const batches = lengthSortedBatches(tokenizeForAnalysis(p, sampled, maxLength), opts.batchSize, p.tokenizer.padTokenId);
    const tokenizeMs = performance.now() - t1;
    const fingerprint = baseModelFingerprint(p.config, p.model.stateDict());
    const analysis = await analyzeHeads(p.model, batches, {
      strategy: opts.strategy, budget: opts.budget, seed: opts.seed, modelFingerprint: fingerprint, signal: controller.signal,
    });
    const { report } = analysis;
    const title = `${opts.strategy} head scores — ${task.name}, ${report.data.examplesUsed} examples`;
    const written = await writeAnalysisOutputs(outDir, analysis, title);

    const { numLayers: L } = report.model;
    const budgetText = 'perLayer' in opts.budget ? `${opts.budget.perLayer} per layer` : 'total' in opts.budget ? `${opts.budget.total} in total` : JSON.stringify(opts.budget);
    const d = report.data;
    console.log(`${opts.model} on ${task.name}: ${d.examplesSeen} examples (${d.examplesUsed} used, ${d.examplesSkipped} skipped, ${d.tokensUsed} tokens), `
      + `${batches.length} batches, strategy ${opts.strategy}, ${budgetText}: ${report.selection.selected.length} heads selected`);
    for (let l = 0; l < L; l++) {
      const heads = report.selection.selected.filter(([sl]) => sl === l).map(([, h]) => h);
      console.log(`  layer ${String(l).padStart(2)}: ${heads.length ? heads.join(' ') : '-'}`);
    }
    for (const w of report.selection.warnings) console.log(`  warning: ${w}`);
    const t = report.timings;
    console.log(`timings: load ${seconds(loadMs)}, tokenise ${seconds(tokenizeMs)}, analysis ${seconds(t.totalMs)} `
      + `(forward ${seconds(t.forwardMs ?? 0)}, statistics ${seconds(t.hostStatisticsMs ?? 0)}, ranking ${seconds(t.rankingMs)})`);
    console.log(`wrote ${written.join(', ')} to ${outDir}`);
    return 0;
  } catch (err) {
    if (controller.signal.aborted) { console.error('hifi analyze: interrupted'); return 130; }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
    p.model.dispose();
  }
}
