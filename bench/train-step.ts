// Training-step speed and memory of the trainer: `hifi` (k = 2 heads per layer: their Q/K/V columns and output-
// projection rows, plus the task head) against `full` (every parameter), on a bert-mini-sized model (the shared
// bert-mini-hifi weights: 4 layers, hidden 128, 8 heads, FFN 512, 30,522-token vocabulary), at B = 32 and
// T = 128 and T = 64 (every token real). Each configuration runs in its own child process, so its peak resident
// memory (max RSS, from process.resourceUsage) is its own.
//
//   node --import tsx bench/train-step.ts [--steps N] [--quick] [--json FILE]
//
// One step = Trainer.step: forward with dropout, cross-entropy loss, gradients of the trainable variables only,
// global-norm clipping, AdamW update, reading the loss. With k = 2 heads in every layer, the lowest trainable layer
// is layer 0, so the backward pass runs through all four layers in both strategies; `hifi` saves the weight
// gradients of the frozen matrices (and the embedding gradient) and the optimiser work on ~98% of the parameters.
// Figures: median and minimum ms/step over N timed steps after 2 warm-up steps. The machine has 2 cores shared with
// other work; minima are the most repeatable.
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const SHARED = resolve(process.env.HIFI_SHARED ?? join(import.meta.dirname, '..', '..', 'shared'));
const MODEL = join(SHARED, 'models', 'bert-mini-hifi');
const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const QUICK = args.includes('--quick');
const STEPS = Number(option('steps') ?? (QUICK ? 3 : 8));
const B = 32;

interface ChildResult {
  strategy: 'hifi' | 'full';
  seqLen: number;
  trainableParams: number;
  totalParams: number;
  msPerStepMedian: number;
  msPerStepMin: number;
  maxRssMB: number;
  backend: string;
}

async function child(strategy: 'hifi' | 'full', seqLen: number): Promise<void> {
  const [{ loadPretrained }, trainer, data] = await Promise.all([import('@hifi/engine'), import('@hifi/trainer'), import('@hifi/data')]);
  const backend = await (await import('@hifi/engine')).initBackend();
  await trainer.enableTraining();
  const p = await loadPretrained(MODEL, { numLabels: 2, seed: 1 });
  const { model } = p;
  const L = model.config.numLayers;
  const heads: [number, number][] = [];
  for (let l = 0; l < L; l++) heads.push([l, 0], [l, 1]);
  const ts = trainer.TrainableSet.create(model, strategy === 'full' ? { mode: 'full' } : { mode: 'heads', heads, trainOutputProjection: true });
  const tr = new trainer.Trainer(model, ts, trainer.resolveHyperparameters({}), 'classification');
  const rng = new data.Rng(7);
  const examples = Array.from({ length: B }, (_, i) => ({
    inputIds: [101, ...Array.from({ length: seqLen - 2 }, () => 1000 + rng.int(20000)), 102],
    tokenTypeIds: new Array<number>(seqLen).fill(0),
    label: i % 2,
  }));
  const batch = data.collate(examples, [...Array(B).keys()], { padId: 0 });
  const total = STEPS + 2;
  const times: number[] = [];
  for (let s = 1; s <= total; s++) {
    const t0 = performance.now();
    await tr.step(batch, s, total);
    if (s > 2) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const result: ChildResult = {
    strategy, seqLen, trainableParams: ts.numParams(), totalParams: model.numParams(),
    msPerStepMedian: times[Math.floor(times.length / 2)], msPerStepMin: times[0],
    maxRssMB: process.resourceUsage().maxRSS / 1024, backend: backend.backend,
  };
  tr.dispose();
  ts.dispose();
  model.dispose();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function main(): void {
  const configs: ['hifi' | 'full', number][] = [['hifi', 128], ['full', 128], ['hifi', 64], ['full', 64]];
  const results: ChildResult[] = [];
  console.log(`train step, bert-mini-hifi, B=${B}, ${STEPS} timed steps per config (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  for (const [strategy, T] of configs) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', strategy, String(T), '--steps', String(STEPS)], {
      encoding: 'utf8', env: process.env, maxBuffer: 1 << 24,
    });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.error(`child ${strategy} T=${T} failed (exit ${r.status}):\n${r.stderr}`);
      process.exitCode = 1;
      continue;
    }
    results.push(JSON.parse(line) as ChildResult);
  }
  const rows = ['| T | strategy | trainable params | % | ms/step (median) | ms/step (min) | peak RSS (MB) |', '|---|---|---|---|---|---|---|'];
  for (const r of results) {
    rows.push(`| ${r.seqLen} | ${r.strategy} | ${r.trainableParams.toLocaleString('en-US')} | ${((100 * r.trainableParams) / r.totalParams).toFixed(2)} | ${r.msPerStepMedian.toFixed(0)} | ${r.msPerStepMin.toFixed(0)} | ${r.maxRssMB.toFixed(0)} |`);
  }
  console.log(rows.join('\n'));
  for (const T of [128, 64]) {
    const h = results.find((r) => r.strategy === 'hifi' && r.seqLen === T);
    const f = results.find((r) => r.strategy === 'full' && r.seqLen === T);
    if (h && f) console.log(`T=${T}: full/hifi step time ${(f.msPerStepMedian / h.msPerStepMedian).toFixed(2)}× (median), ${(f.msPerStepMin / h.msPerStepMin).toFixed(2)}× (min); peak RSS full/hifi ${(f.maxRssMB / h.maxRssMB).toFixed(2)}×`);
  }
  console.log(`backend: ${results[0]?.backend ?? '?'}`);
  const file = option('json') ?? join(import.meta.dirname, 'results', 'train-step.json');
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), batchSize: B, steps: STEPS, loadavg: loadavg(), results }, null, 2)}\n`);
  console.log(`results: ${file}`);
}

const childAt = args.indexOf('--child');
if (childAt >= 0) await child(args[childAt + 1] as 'hifi' | 'full', Number(args[childAt + 2]));
else main();
