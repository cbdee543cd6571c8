// The analysis stage: run the frozen model over sampled batches, accumulate per-head statistics, build the head
// graphs, rank with PageRank, select heads under the budget and write the report and mask.
import * as tf from '@tensorflow/tfjs-core';
import type { EncodedBatch, ForwardOptions, ForwardOutput } from '@hifi/engine';
import { HeadStatistics } from './headStatistics.ts';
import { batchGramsTf, readBatchGrams, type BatchGramsTensors } from './headStatisticsTf.ts';
import { rankHeads, type HeadRanking, type SelectionStrategy } from './rankHeads.ts';
import { selectHeads, DEFAULT_BUDGET, type HeadSelection, type SelectionBudget } from './selectHeads.ts';
import { buildHeadReport, type AnalysisConfig, type HeadReport } from './headReport.ts';
import { headMaskFile, type HeadMaskFile } from './headMask.ts';
import { PAGE_RANK_DEFAULTS } from './pageRank.ts';
import { TokenDataHasher } from './fingerprint.ts';
import { wasmHeapViews } from './hostTensorView.ts';
import type { HeadRef } from './headRef.ts';
import type { JacobiOptions } from './symmetricEigen.ts';

/** What analyzeHeads needs from a model (EncoderModel of @hifi/engine satisfies it). */
export interface HeadAnalysisModel {
  readonly config: { numLayers: number; numHeads: number; headDim: number; hiddenSize: number };
  forward(batch: EncodedBatch, opts: ForwardOptions): ForwardOutput;
}

export type AnalysisCompute = 'host' | 'tfjs' | 'reference';
export const ANALYSIS_COMPUTE_MODES: readonly AnalysisCompute[] = ['host', 'tfjs', 'reference'];

export interface AnalysisProgress {
  batches: number;
  examples: number;
  elapsedMs: number;
}

export interface AnalyzeHeadsOptions {
  strategy?: SelectionStrategy;
  budget?: SelectionBudget;
  require?: readonly HeadRef[];
  exclude?: readonly HeadRef[];
  damping?: number;
  tolerance?: number;
  maxIterations?: number;
  edgeThreshold?: number;
  /** Seed of the `random` strategy (default 0). */
  seed?: number;
  /**
   * How the statistics are computed from the head outputs (see ANALYSIS_COMPUTE_MODES):
   * 'host' (default): the head outputs are read to host once per batch and processed in float64 with the least-work
   *   Grams and the tridiagonal QL eigenvalue solver (the fastest on the wasm and cpu backends);
   * 'tfjs': the Gram matrices are formed with batched matMuls on the model's backend (float32), the eigenvalues on host;
   * 'reference': the literal definition in float64 (full (H·d)² Gram per example, Jacobi eigenvalues); slow.
   */
  compute?: AnalysisCompute;
  /** sha256 of the model config and weights (see fingerprintWeights), recorded in the report. */
  modelFingerprint?: string;
  /** Hash of the sampled data (see hashSampledData); default: sha256 of the batches' real token ids. */
  dataHash?: string;
  jacobi?: JacobiOptions;
  onProgress?: (progress: AnalysisProgress) => void;
  signal?: AbortSignal;
}

export interface HeadAnalysis {
  report: HeadReport;
  mask: HeadMaskFile;
  ranking: HeadRanking;
  selection: HeadSelection;
  statistics: HeadStatistics;
}

export async function analyzeHeads(
  model: HeadAnalysisModel,
  batches: Iterable<EncodedBatch> | AsyncIterable<EncodedBatch>,
  opts: AnalyzeHeadsOptions = {},
): Promise<HeadAnalysis> {
  const start = performance.now();
  const { numLayers, numHeads, headDim } = model.config;
  const compute = opts.compute ?? 'host';
  if (!ANALYSIS_COMPUTE_MODES.includes(compute)) {
    throw new RangeError(`analyzeHeads: compute must be one of ${ANALYSIS_COMPUTE_MODES.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(compute)}`);
  }
  const statistics = new HeadStatistics({ numLayers, numHeads, headDim }, { jacobi: opts.jacobi });
  let deviceMs = 0;
  let hostMs = 0;
  const hasher = opts.dataHash === undefined ? new TokenDataHasher() : undefined;
  let batchCount = 0;
  opts.signal?.throwIfAborted();
  for await (const batch of batches) {
    opts.signal?.throwIfAborted();
    hasher?.addBatch(batch);
    const t0 = performance.now();
    if (compute === 'tfjs') {
      let spaces: Pick<BatchGramsTensors, 'space' | 'n'>[] = [];
      const kept = tf.tidy(() => {
        const out = model.forward(batch, { outputHeadOutputs: true, skipTaskHead: true });
        const mask = tf.tensor2d(Float32Array.from(batch.attentionMask), [batch.batchSize, batch.seqLen]);
        const layers = batchGramsTf(requireHeadOutputs(out, numLayers), mask);
        spaces = layers.map(({ space, n }) => ({ space, n }));
        return layers.flatMap((l) => [l.grams, l.cross]);
      });
      const stats = spaces.map((s, l) => ({ ...s, grams: kept[2 * l] as tf.Tensor4D, cross: kept[2 * l + 1] as tf.Tensor3D }));
      const grams = await readBatchGrams(stats);
      const t1 = performance.now();
      deviceMs += t1 - t0;
      statistics.addBatchGrams(grams, batch);
      hostMs += performance.now() - t1;
    } else {
      const outputs = tf.tidy(() => requireHeadOutputs(model.forward(batch, { outputHeadOutputs: true, skipTaskHead: true }), numLayers));
      try {
        // Zero-copy views on the wasm heap where possible, used synchronously (no await, no tfjs op in between);
        // else copies.
        const host = wasmHeapViews(outputs) ?? ((await Promise.all(outputs.map((t) => t.data()))) as Float32Array[]);
        const t1 = performance.now();
        deviceMs += t1 - t0;
        if (compute === 'host') statistics.addBatch(host, batch);
        else statistics.addBatchReference(host, batch);
        hostMs += performance.now() - t1;
      } finally {
        tf.dispose(outputs);
      }
    }
    batchCount++;
    opts.onProgress?.({ batches: batchCount, examples: statistics.summary().examplesSeen, elapsedMs: performance.now() - start });
    await new Promise(setImmediate);
  }
  opts.signal?.throwIfAborted();
  if (statistics.summary().examplesUsed === 0) {
    throw new RangeError(`analyzeHeads: no usable examples (${statistics.summary().examplesSeen} seen; examples need at least 2 real tokens)`);
  }
  const statisticsMs = performance.now() - start;
  const result = rankAndSelect(statistics, { ...opts, compute, dataHash: opts.dataHash ?? hasher?.digest(), hiddenSize: model.config.hiddenSize });
  const totalMs = performance.now() - start;
  result.report.timings = { statisticsMs, rankingMs: totalMs - statisticsMs, totalMs, forwardMs: deviceMs, hostStatisticsMs: hostMs };
  return result;
}

/**
 * Everything after the statistics: graphs, PageRank, selection, report and mask. Exposed so that statistics computed
 * elsewhere (or in tests) can be ranked the same way.
 */
export function rankAndSelect(
  statistics: HeadStatistics,
  opts: AnalyzeHeadsOptions & { hiddenSize?: number } = {},
): HeadAnalysis {
  const t0 = performance.now();
  const { numLayers: L, numHeads: H, headDim } = statistics;
  const strategy = opts.strategy ?? 'hifi';
  const analysis: AnalysisConfig = {
    strategy,
    budget: opts.budget ?? DEFAULT_BUDGET,
    require: (opts.require ?? []).map(([l, h]) => [l, h]),
    exclude: (opts.exclude ?? []).map(([l, h]) => [l, h]),
    damping: opts.damping ?? PAGE_RANK_DEFAULTS.damping,
    tolerance: opts.tolerance ?? PAGE_RANK_DEFAULTS.tolerance,
    maxIterations: opts.maxIterations ?? PAGE_RANK_DEFAULTS.maxIterations,
    edgeThreshold: opts.edgeThreshold ?? 0,
    seed: opts.seed ?? 0,
    compute: opts.compute ?? 'host',
    teleport: 'richness',
  };
  const richness = Array.from({ length: L }, (_, l) => statistics.richness(l));
  const correlation = Array.from({ length: L }, (_, l) => statistics.correlation(l));
  const ranking = rankHeads(richness, correlation, analysis);
  const selection = selectHeads({
    scores: ranking.scores,
    budget: strategy === 'all' ? { fraction: 1 } : analysis.budget,
    require: analysis.require,
    exclude: analysis.exclude,
  });
  const hiddenSize = opts.hiddenSize ?? H * headDim;
  const rankingMs = performance.now() - t0;
  const report = buildHeadReport({
    ranking,
    selection,
    model: { fingerprint: opts.modelFingerprint ?? null, numLayers: L, numHeads: H, headDim, hiddenSize },
    data: { hash: opts.dataHash ?? null, ...statistics.summary() },
    analysis,
    timings: { statisticsMs: 0, rankingMs, totalMs: rankingMs },
  });
  return { report, mask: headMaskFile(L, H, selection.selected), ranking, selection, statistics };
}

function requireHeadOutputs(out: ForwardOutput, numLayers: number): tf.Tensor4D[] {
  if (!out.headOutputs || out.headOutputs.length !== numLayers) {
    throw new Error(`analyzeHeads: model.forward returned ${out.headOutputs?.length ?? 'no'} head outputs, expected one per layer (${numLayers})`);
  }
  return out.headOutputs;
}
