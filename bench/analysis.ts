// Benchmark of the head analysis (hifi analyze) on bert-mini-hifi with GLUE SST-2:
//  1. speed: one plain forward pass over N = 256 sampled training examples against the whole analysis of the same
//     examples (target: analysis / forward ≤ 1.5), repeated and interleaved, medians reported;
//  2. memory: peak RSS (process.resourceUsage().maxRSS) and peak tfjs bytes for N = 256 and N = 2048, each in its own
//     child process, to show that memory does not grow with N.
// The examples go through the same code as the CLI: seeded sample, the model's tokenizer, length-sorted batches.
//
//   node --import tsx bench/analysis.ts [--reps 9] [--quick] [--compute host|tfjs|reference] [--model DIR] [--data-dir DIR]
//
// Results are printed as a table and written to bench/results/analysis.json (analysis-quick.json with --quick).
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadPretrained, type EncodedBatch } from '@hifi/engine';
import { sample } from '@hifi/data';
import { analyzeHeads, type AnalysisCompute, type HeadAnalysis } from '@hifi/hifi';
import { lengthSortedBatches, loadTaskExamples, tokenizeForAnalysis } from '@hifi/cli/commands/analyze.ts';

const root = resolve(import.meta.dirname, '..');
const sharedDir = resolve(root, process.env.HIFI_SHARED ?? '../shared');

// Lenient parsing: bench/run.ts passes the same arguments to every script, so options meant for others are ignored.
const { values: raw } = parseArgs({
  strict: false,
  options: {
    child: { type: 'string' }, // 'speed' | 'memory': run one measurement and print JSON
    samples: { type: 'string' }, reps: { type: 'string' }, compute: { type: 'string' }, model: { type: 'string' },
    'data-dir': { type: 'string' }, 'batch-size': { type: 'string' }, seed: { type: 'string' }, 'max-length': { type: 'string' },
    quick: { type: 'boolean' }, // 3 repetitions and only the truncated memory pair
  },
});
const opt = (name: string, fallback: string): string => (typeof raw[name] === 'string' ? (raw[name] as string) : fallback);
const quick = raw.quick === true;
const args = {
  child: typeof raw.child === 'string' ? raw.child : undefined,
  samples: opt('samples', '256'),
  reps: opt('reps', quick ? '3' : '9'),
  compute: opt('compute', 'host'),
  model: opt('model', join(sharedDir, 'models/bert-mini-hifi')),
  'data-dir': opt('data-dir', join(sharedDir, 'data/glue')),
  'batch-size': opt('batch-size', '32'),
  seed: opt('seed', '0'),
  'max-length': opt('max-length', '128'),
};

interface SpeedResult {
  samples: number;
  batches: number;
  meanSeqLen: number;
  realTokens: number;
  backend: string;
  cold: { forwardMs: number; analysisMs: number };
  forwardMs: number[];
  analysisMs: number[];
  /** CPU time (user + system) of the same runs: less sensitive to other processes on a shared machine. */
  forwardCpuMs: number[];
  analysisCpuMs: number[];
  parts: { forwardMs: number; hostStatisticsMs: number; rankingMs: number }[];
  selected: string;
}

interface MemoryResult {
  samples: number;
  batches: number;
  maxLength: number;
  maxSeqLen: number;
  analysisMs: number;
  maxRssMB: number;
  rssBeforeAnalysisMB: number;
  tfPeakBytes: number;
  tfBytesAfter: number;
  /** V8 heap in use after a full GC, before and after the analysis (its result kept alive). */
  heapBeforeMB: number;
  heapAfterMB: number;
  tfTensorsAfter: number;
  accumulatorBytes: number;
  scratchBytes: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mb = (bytes: number) => bytes / 2 ** 20;

async function setup(samples: number) {
  const p = await loadPretrained(args.model);
  const task = await loadTaskExamples('glue:sst2', args['data-dir']);
  const texts = sample(task.examples, samples, Number(args.seed));
  const batches = lengthSortedBatches(tokenizeForAnalysis(p, texts, Math.min(Number(args['max-length']), p.maxLength)), Number(args['batch-size']), p.tokenizer.padTokenId);
  return { p, batches };
}

/** One plain forward pass (the model's logits, read to host) over every batch. */
async function plainForward(model: { forward(b: EncodedBatch): { logits?: tf.Tensor } }, batches: readonly EncodedBatch[]): Promise<number> {
  const t = performance.now();
  for (const b of batches) {
    const logits = tf.tidy(() => model.forward(b).logits!);
    await logits.data();
    logits.dispose();
  }
  return performance.now() - t;
}

async function speedChild(): Promise<SpeedResult> {
  const { p, batches } = await setup(Number(args.samples));
  const compute = args.compute as AnalysisCompute;
  const analyse = () => analyzeHeads(p.model, batches, { compute });
  // Cold: the first forward pass (kernel set-up, JIT) and the first analysis of this process.
  const coldForward = await plainForward(p.model, batches);
  let t = performance.now();
  let result: HeadAnalysis = await analyse();
  const coldAnalysis = performance.now() - t;
  const forwardMs: number[] = [];
  const analysisMs: number[] = [];
  const forwardCpuMs: number[] = [];
  const analysisCpuMs: number[] = [];
  const parts: SpeedResult['parts'] = [];
  const cpuMs = (since: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1000; };
  for (let r = 0; r < Number(args.reps); r++) {
    // Interleaved, alternating which goes first, so drifting machine load hits both alike.
    const pair = async (first: 'f' | 'a') => {
      for (const which of first === 'f' ? ['f', 'a'] : ['a', 'f']) {
        const cpu = process.cpuUsage();
        if (which === 'f') {
          forwardMs.push(await plainForward(p.model, batches));
          forwardCpuMs.push(cpuMs(cpu));
        } else {
          t = performance.now();
          result = await analyse();
          analysisMs.push(performance.now() - t);
          analysisCpuMs.push(cpuMs(cpu));
          const tm = result.report.timings;
          parts.push({ forwardMs: tm.forwardMs ?? 0, hostStatisticsMs: tm.hostStatisticsMs ?? 0, rankingMs: tm.rankingMs });
        }
      }
    };
    await pair(r % 2 ? 'a' : 'f');
  }
  p.model.dispose();
  return {
    samples: batches.reduce((s, b) => s + b.batchSize, 0),
    batches: batches.length,
    meanSeqLen: batches.reduce((s, b) => s + b.seqLen * b.batchSize, 0) / batches.reduce((s, b) => s + b.batchSize, 0),
    realTokens: batches.reduce((s, b) => s + b.attentionMask.reduce((a, v) => a + v, 0), 0),
    backend: tf.getBackend(),
    cold: { forwardMs: coldForward, analysisMs: coldAnalysis },
    forwardMs, analysisMs, forwardCpuMs, analysisCpuMs, parts,
    selected: result.report.selection.selected.map(([l, h]) => `${l}.${h}`).join(' '),
  };
}

async function memoryChild(): Promise<MemoryResult> {
  const { p, batches } = await setup(Number(args.samples));
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.resourceUsage().maxRSS * 1024;
  const t = performance.now();
  const result = await analyzeHeads(p.model, batches, { compute: args.compute as AnalysisCompute });
  const analysisMs = performance.now() - t;
  const maxRss = process.resourceUsage().maxRSS * 1024; // maxRSS is in kilobytes
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  // Peak bytes held by tfjs tensors during a second analysis (tf.profile tracks the high-water mark).
  const profile = await tf.profile(async () => { await analyzeHeads(p.model, batches, { compute: args.compute as AnalysisCompute }); return []; });
  const mem = result.statistics.memory();
  const after = tf.memory();
  p.model.dispose();
  return {
    samples: batches.reduce((s, b) => s + b.batchSize, 0), batches: batches.length, analysisMs,
    maxLength: Number(args['max-length']), maxSeqLen: Math.max(...batches.map((b) => b.seqLen)),
    maxRssMB: mb(maxRss), rssBeforeAnalysisMB: mb(rssBefore), tfPeakBytes: profile.peakBytes,
    heapBeforeMB: mb(heapBefore), heapAfterMB: mb(heapAfter),
    tfBytesAfter: after.numBytes, tfTensorsAfter: after.numTensors, accumulatorBytes: mem.accumulatorBytes, scratchBytes: mem.scratchBytes,
  };
}

async function runChild<T>(kind: 'speed' | 'memory', samples: number, maxLength = args['max-length']): Promise<T> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--expose-gc', '--import', 'tsx', join(root, 'bench/analysis.ts'), '--child', kind, '--samples', String(samples), '--reps', args.reps, '--max-length', maxLength,
    '--compute', args.compute, '--model', args.model, '--data-dir', args['data-dir'], '--batch-size', args['batch-size'], '--seed', args.seed,
  ], { cwd: root, maxBuffer: 1 << 24 });
  const last = stdout.trim().split('\n').at(-1)!;
  return JSON.parse(last) as T;
}

async function main(): Promise<void> {
  if (args.child === 'speed') { console.log(JSON.stringify(await speedChild())); return; }
  if (args.child === 'memory') { console.log(JSON.stringify(await memoryChild())); return; }

  const speed = await runChild<SpeedResult>('speed', Number(args.samples));
  const memory: MemoryResult[] = [];
  // At the default length the longest batch of 2048 examples is longer than that of 256 (longer sentences turn up);
  // truncated to 32 tokens both have the same longest batch, which isolates the effect of N.
  for (const maxLength of quick ? ['32'] : [args['max-length'], '32']) for (const n of [256, 2048]) memory.push(await runChild<MemoryResult>('memory', n, maxLength));

  const ratios = speed.analysisMs.map((a, i) => a / speed.forwardMs[i]);
  const cpuRatios = speed.analysisCpuMs.map((a, i) => a / speed.forwardCpuMs[i]);
  const row = (name: string, xs: number[], digits = 0) =>
    `${name.padEnd(34)} ${median(xs).toFixed(digits).padStart(8)} ${Math.min(...xs).toFixed(digits).padStart(8)} ${Math.max(...xs).toFixed(digits).padStart(8)}`;
  const lines = [
    `bert-mini-hifi, GLUE SST-2 train: N = ${speed.samples} sampled examples (seed ${args.seed}), ${speed.batches} length-sorted batches of ≤ ${args['batch-size']}, `
      + `mean padded length ${speed.meanSeqLen.toFixed(1)}, ${speed.realTokens} real tokens; backend ${speed.backend}; compute '${args.compute}'`,
    '',
    `${'speed (one process, warm, ' + speed.forwardMs.length + ' interleaved runs)'.padEnd(34)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`,
    row('plain forward pass (ms)', speed.forwardMs),
    row('analysis (ms)', speed.analysisMs),
    row('  forward + read head outputs (ms)', speed.parts.map((p) => p.forwardMs)),
    row('  host statistics (ms)', speed.parts.map((p) => p.hostStatisticsMs)),
    row('  graphs, PageRank, selection (ms)', speed.parts.map((p) => p.rankingMs), 1),
    row('ratio analysis / forward', ratios, 2) + `   target ≤ 1.5 (ratio of medians ${(median(speed.analysisMs) / median(speed.forwardMs)).toFixed(2)})`,
    row('CPU time: plain forward pass (ms)', speed.forwardCpuMs),
    row('CPU time: analysis (ms)', speed.analysisCpuMs),
    row('CPU time ratio analysis / forward', cpuRatios, 2),
    `cold (first run in the process): forward ${speed.cold.forwardMs.toFixed(0)} ms, analysis ${speed.cold.analysisMs.toFixed(0)} ms`,
    `selected heads: ${speed.selected}`,
    '',
    'memory (one child process per N, one analysis each)',
    `${'N'.padStart(6)} ${'max len'.padStart(8)} ${'longest'.padStart(8)} ${'batches'.padStart(8)} ${'analysis ms'.padStart(12)} ${'RSS before'.padStart(11)} ${'max RSS'.padStart(9)} ${'tf peak'.padStart(9)} ${'tf after'.padStart(9)} ${'JS heap before→after GC'.padStart(24)} ${'accumulator'.padStart(12)} ${'scratch'.padStart(9)}`,
    ...memory.map((m) => `${String(m.samples).padStart(6)} ${String(m.maxLength).padStart(8)} ${String(m.maxSeqLen).padStart(8)} ${String(m.batches).padStart(8)} ${m.analysisMs.toFixed(0).padStart(12)} ${(m.rssBeforeAnalysisMB.toFixed(1) + ' MB').padStart(11)} `
      + `${(m.maxRssMB.toFixed(1) + ' MB').padStart(9)} ${(mb(m.tfPeakBytes).toFixed(2) + ' MB').padStart(9)} ${(mb(m.tfBytesAfter).toFixed(2) + ' MB').padStart(9)} ${`${m.heapBeforeMB.toFixed(1)} → ${m.heapAfterMB.toFixed(1)} MB`.padStart(24)} `
      + `${(m.accumulatorBytes + ' B').padStart(12)} ${(m.scratchBytes + ' B').padStart(9)}`),
    '(max len = truncation; longest = padded length of the longest batch; RSS before = max RSS after loading the model,',
    ' the SST-2 train split and tokenising; tf after = model weights left; scratch = host scratch incl. the wasm kernel memory)',
  ];
  console.log(lines.join('\n'));
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(join(root, `bench/results/${quick ? 'analysis-quick' : 'analysis'}.json`), `${JSON.stringify({ args, speed, memory, ratios, cpuRatios, date: new Date().toISOString() }, null, 2)}\n`);
}

await main();
