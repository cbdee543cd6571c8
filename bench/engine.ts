// Engine speed: forward and forward+backward milliseconds per batch, tokens/s and achieved GFLOP/s, on the tfjs
// backend that initBackend() picks, for the fast path (the wasm kernels of packages/engine/src/kernels) and the
// plain-tfjs reference path, plus PyTorch on the same machine as a reference column when python3 has torch.
//
//   node --import tsx bench/engine.ts [--reps N] [--quick] [--no-reference] [--no-torch] [--ablation] [--profile] [--json FILE]
// (results also go to bench/results/engine.json, or engine-quick.json with --quick, unless --json names a file)
//
// --profile prints, for the bert-mini workload, tf.profile's per-kernel times of one forward and one forward+backward
// step (kernel name and input shapes, summed over calls), on the fast path and on the plain path.
// --ablation adds, for the bert-mini workload, one row per optimisation with only that one switched off (see
// FAST_KERNELS in packages/engine/src/kernels/wasm-kernels.ts), i.e. what each contributes on top of the others.
//
// Workloads: a bert-mini-sized encoder (4 layers, hidden 128, 8 heads, FFN 512; the shared bert-mini-hifi weights)
// at B=32, T=128, and the two fixtures (tiny-bert, tiny-roberta) at B=32 and their longest sequence (64 positions).
// forward = evaluation (no dropout, no tape). forward+backward = what a HiFi training step costs: dropout on, a
// cross-entropy loss, gradients for the attention projections (query/key/value/output dense) of every layer and the
// task head, so the backward pass runs through every layer; embeddings and feed-forward weights are frozen.
//
// FLOPs are counted analytically for the matmuls only (2 per multiply-add), with N = B·T tokens, C hidden,
// F = FFN size, H heads of d = C/H, L layers:
//   forward per layer   2·N·C·3C (QKV) + 2·N·C·C (output) + 2·2·N·C·F (FFN) + 2·2·B·H·T²·d (QKᵀ and P·V)
//   backward per layer  the dense matmuls once more for ∂input (2·N·C·(4C + 2F)), 2× the attention matmuls
//                       (∂Q, ∂K, ∂V, ∂P), and the weight gradients of the trainable projections 2·N·C·4C
//   (the task head's matmuls on B rows are negligible and left out; the fast kernels' recomputation of QKᵀ in the
//   backward pass is work they choose to do, so it is not counted)
// The machine has 2 cores shared with other work: each figure is the minimum (and median) over --reps runs after a
// warm-up run; minima are the most repeatable.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EncoderModel, FAST_KERNELS, fastKernelsAvailable, initBackend, parseConfig, readSafetensors, setFastKernelEnabled, setFastKernelsEnabled } from '@hifi/engine';
import type { EncodedBatch, ModelConfig } from '@hifi/engine';
import { enableTraining } from '@hifi/trainer';

const SHARED = resolve(process.env.HIFI_SHARED ?? join(import.meta.dirname, '..', '..', 'shared'));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const QUICK = flag('quick');
const REPS = Number(option('reps') ?? (QUICK ? 2 : 5));

interface Workload { name: string; dir: string; batchSize: number; seqLen: number }
const WORKLOADS: Workload[] = [
  { name: 'bert-mini (4L, 128h, 8 heads, FFN 512)', dir: join(SHARED, 'models/bert-mini-hifi'), batchSize: 32, seqLen: 128 },
  { name: 'tiny-bert fixture (2L, 64h, 4 heads)', dir: join(SHARED, 'fixtures/tiny-bert'), batchSize: 32, seqLen: 64 },
  { name: 'tiny-roberta fixture (3L, 64h, 8 heads)', dir: join(SHARED, 'fixtures/tiny-roberta'), batchSize: 32, seqLen: 64 },
];

export interface Timing { min: number; median: number }

export function flops(config: ModelConfig, B: number, T: number): { forward: number; backward: number } {
  const { hiddenSize: C, intermediateSize: F, numHeads: H, headDim: d, numLayers: L } = config;
  const N = B * T;
  const dense = 2 * N * C * (4 * C + 2 * F);
  const attention = 2 * 2 * B * H * T * T * d;
  const weightGrads = 2 * N * C * 4 * C;
  return { forward: L * (dense + attention), backward: L * (dense + 2 * attention + weightGrads) };
}

function timeIt(fn: () => void, reps: number): Timing {
  fn(); // warm-up (kernel set-up, fused weights, allocations)
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { min: times[0], median: times[Math.floor(times.length / 2)] };
}

function syntheticBatch(config: ModelConfig, B: number, T: number): EncodedBatch {
  const inputIds = new Int32Array(B * T);
  const attentionMask = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const len = T - (b % 4) * Math.floor(T / 8); // a mix of full and padded rows
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      attentionMask[i] = t < len ? 1 : 0;
      inputIds[i] = t < len ? 1000 + ((i * 7919) % Math.min(20000, config.vocabSize - 1000)) : config.padTokenId;
    }
  }
  return { batchSize: B, seqLen: T, inputIds, attentionMask, tokenTypeIds: new Int32Array(B * T) };
}

/** The parameters a HiFi step trains (all heads of every layer here) and the task head. */
function trainableKeys(model: EncoderModel): string[] {
  return model.paramNames().filter((k) => /\.attention\.(self\.(query|key|value)|output\.dense)\./.test(k) || k.startsWith('classifier.') || k.includes('.pooler.'));
}

/** One forward and one forward+backward step of a workload, as closures (set-up and disposal around them). */
function steps(model: EncoderModel, batch: EncodedBatch): { forward: () => void; forwardBackward: () => void; dispose: () => void } {
  const inputs = model.inputsFromBatch(batch);
  const labels = tf.tensor1d(Array.from({ length: batch.batchSize }, (_, b) => b % model.config.numLabels), 'int32');
  const keys = trainableKeys(model);
  const vars = keys.map((k) => tf.variable(model.param(k).clone()));
  let step = 0;
  return {
    forward: () => {
      const logits = tf.tidy(() => model.forward(inputs).logits!);
      logits.dataSync();
      logits.dispose();
    },
    forwardBackward: () => {
      const out = tf.tidy(() => {
        const overrides = new Map<string, tf.Tensor>(keys.map((k, i) => [k, vars[i]]));
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.forward(inputs, { training: true, dropoutSeed: ++step, overrides }).logits!;
          return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, model.config.numLabels), logits) as tf.Scalar;
        }, vars);
        return [value, ...Object.values(grads)];
      });
      for (const t of out) t.dataSync();
      tf.dispose(out);
    },
    dispose: () => tf.dispose([inputs.inputIds, inputs.attentionMask, inputs.tokenTypeIds ?? [], inputs.positionIds ?? [], labels, ...vars]),
  };
}

function measure(model: EncoderModel, batch: EncodedBatch, reps: number): { forward: Timing; forwardBackward: Timing } {
  const s = steps(model, batch);
  const forward = timeIt(s.forward, reps);
  const forwardBackward = timeIt(s.forwardBackward, Math.max(1, Math.ceil(reps / 2)));
  s.dispose();
  return { forward, forwardBackward };
}

/**
 * Several configurations measured in round-robin (one step of each per round), so that the load of other
 * processes on the shared cores falls on all of them alike; the first round is a warm-up.
 */
function measureInterleaved(model: EncoderModel, batch: EncodedBatch, configs: { apply: () => void; restore: () => void }[], rounds: number): { forward: Timing; forwardBackward: Timing }[] {
  const s = steps(model, batch);
  const fwd: number[][] = configs.map(() => []);
  const fb: number[][] = configs.map(() => []);
  for (let r = 0; r <= rounds; r++) {
    configs.forEach((c, i) => {
      c.apply();
      try {
        let t0 = performance.now();
        s.forward();
        if (r > 0) fwd[i].push(performance.now() - t0);
        t0 = performance.now();
        s.forwardBackward();
        if (r > 0) fb[i].push(performance.now() - t0);
      } finally {
        c.restore();
      }
    });
  }
  s.dispose();
  const stats = (ts: number[]): Timing => { const x = [...ts].sort((a, b) => a - b); return { min: x[0], median: x[Math.floor(x.length / 2)] }; };
  return configs.map((_, i) => ({ forward: stats(fwd[i]), forwardBackward: stats(fb[i]) }));
}

/** tf.profile of one call of fn: kernel time summed per (kernel, input shapes), largest first. */
async function profileKernels(label: string, fn: () => void): Promise<void> {
  const info = await tf.profile(() => { fn(); return tf.scalar(0); });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = byKernel.get(key) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls++;
    byKernel.set(key, e);
  }
  const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((a, [, e]) => a + e.ms, 0);
  console.log(`\n# profile: ${label} — ${total.toFixed(1)} ms in ${info.kernels.length} kernel calls`);
  console.log('| ms | share | calls | kernel [input shapes] |\n|---|---|---|---|');
  for (const [key, e] of rows.slice(0, 25)) console.log(`| ${e.ms.toFixed(2)} | ${((100 * e.ms) / total).toFixed(1)} % | ${e.calls} | ${key} |`);
}

interface TorchResult { torch: string; threads: number; blas: string; forward_ms: Timing; forward_backward_ms: Timing }

function torchReference(config: ModelConfig, B: number, T: number, threads: number): TorchResult | string {
  const python = process.env.HIFI_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  try {
    const out = execFileSync(python, [join(import.meta.dirname, 'torch_reference.py'),
      '--layers', String(config.numLayers), '--hidden', String(config.hiddenSize), '--heads', String(config.numHeads),
      '--ffn', String(config.intermediateSize), '--batch', String(B), '--seq', String(T), '--reps', String(REPS), '--threads', String(threads)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    return JSON.parse(out.trim().split('\n').pop()!) as TorchResult;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return msg.includes('No module named') ? 'torch not installed' : `failed: ${msg.split('\n')[0].slice(0, 120)}`;
  }
}

const fmt = (ms: Timing) => `${ms.min.toFixed(0)} (${ms.median.toFixed(0)})`;
const rate = (tokens: number, ms: number) => Math.round((tokens / ms) * 1000).toLocaleString('en-US');
const gflops = (f: number, ms: number) => (f / ms / 1e6).toFixed(1);

async function main(): Promise<void> {
  const choice = await initBackend();
  await enableTraining();
  const fast = fastKernelsAvailable();
  console.log(`# engine benchmark — backend ${choice.backend}${choice.backend === 'wasm' ? ` (SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'on' : 'off'})` : ''}; fast kernels ${fast ? 'available' : 'unavailable'}`);
  console.log(`# ms per batch: min (median) of ${REPS} forward / ${Math.max(1, Math.ceil(REPS / 2))} forward+backward runs after a warm-up; node ${process.version}`);
  if (flag('ablation')) console.log(`# ablation rows: all configurations of the first workload run in round-robin, ${REPS} rounds after a warm-up round`);
  const rows: string[][] = [];
  const results: Record<string, unknown>[] = [];
  const workloads = QUICK ? WORKLOADS.slice(0, 1) : WORKLOADS;
  for (const w of workloads) {
    const config = parseConfig(JSON.parse(readFileSync(join(w.dir, 'config.json'), 'utf8')), `${w.dir}/config.json`);
    const { tensors } = await readSafetensors(join(w.dir, 'model.safetensors'));
    const { model } = EncoderModel.fromStateDict(config, tensors);
    const batch = syntheticBatch(config, w.batchSize, w.seqLen);
    const f = flops(config, w.batchSize, w.seqLen);
    const tokens = w.batchSize * w.seqLen;
    const row = (label: string, m: { forward: Timing; forwardBackward: Timing }) => {
      rows.push([w.name, `B=${w.batchSize} T=${w.seqLen}`, label, fmt(m.forward), rate(tokens, m.forward.min), gflops(f.forward, m.forward.min),
        fmt(m.forwardBackward), rate(tokens, m.forwardBackward.min), gflops(f.forward + f.backward, m.forwardBackward.min)]);
      results.push({ workload: w.name, batchSize: w.batchSize, seqLen: w.seqLen, path: label.trim(), flops: f, forwardMs: m.forward, forwardBackwardMs: m.forwardBackward });
    };
    if (flag('profile') && w === WORKLOADS[0]) {
      for (const on of fast ? [true, false] : [false]) {
        setFastKernelsEnabled(on);
        const s = steps(model, batch);
        s.forward();
        s.forwardBackward(); // warm-up
        await profileKernels(`${w.name}, forward, ${on ? 'hifi kernels' : 'plain ops'}`, s.forward);
        await profileKernels(`${w.name}, forward+backward, ${on ? 'hifi kernels' : 'plain ops'}`, s.forwardBackward);
        s.dispose();
      }
      setFastKernelsEnabled(true);
    }
    if (fast && flag('ablation') && w === WORKLOADS[0]) {
      // all optimisations on, then each one off alone, interleaved round by round
      const configs = [{ label: `tfjs-${choice.backend} + hifi kernels`, apply: () => {}, restore: () => {} },
        ...FAST_KERNELS.map((k) => ({ label: `  … without ${k}`, apply: () => setFastKernelEnabled(k, false), restore: () => setFastKernelEnabled(k, true) }))];
      measureInterleaved(model, batch, configs, REPS).forEach((m, i) => row(configs[i].label, m));
    } else if (fast) {
      row(`tfjs-${choice.backend} + hifi kernels`, measure(model, batch, REPS));
    }
    if (!flag('no-reference') || !fast) {
      setFastKernelsEnabled(false);
      row(`tfjs-${choice.backend} plain ops`, measure(model, batch, Math.min(REPS, 2))); // slow: fewer runs
      setFastKernelsEnabled(true);
    }
    model.dispose();
    if (!flag('no-torch')) {
      for (const threads of QUICK ? [1] : [1, 2]) {
        const t = torchReference(config, w.batchSize, w.seqLen, threads);
        if (typeof t === 'string') { rows.push([w.name, `B=${w.batchSize} T=${w.seqLen}`, `PyTorch: ${t}`, '', '', '', '', '', '']); break; }
        rows.push([w.name, `B=${w.batchSize} T=${w.seqLen}`, `PyTorch ${t.torch} CPU, ${t.threads} thread${t.threads > 1 ? 's' : ''} (reference)`,
          fmt(t.forward_ms), rate(tokens, t.forward_ms.min), gflops(f.forward, t.forward_ms.min),
          fmt(t.forward_backward_ms), rate(tokens, t.forward_backward_ms.min), gflops(f.forward + f.backward, t.forward_backward_ms.min)]);
        results.push({ workload: w.name, path: `pytorch-${t.threads}t`, blas: t.blas, flops: f, forwardMs: t.forward_ms, forwardBackwardMs: t.forward_backward_ms });
      }
    }
  }
  const header = ['workload', 'batch', 'implementation', 'fwd ms', 'fwd tok/s', 'fwd GFLOP/s', 'fwd+bwd ms', 'fwd+bwd tok/s', 'fwd+bwd GFLOP/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  const jsonPath = option('json') ?? join(import.meta.dirname, 'results', QUICK ? 'engine-quick.json' : 'engine.json');
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify({ date: new Date().toISOString(), backend: choice.backend, reps: REPS, results }, null, 2)}\n`);
  console.log(`# written to ${jsonPath}`);
}

await main();
