// A small pipeline for the worker's own tests: CPU-bound "training steps" (a busy loop of `stepMs`, synchronous,
// like a tfjs step) that yield to the event loop between steps, resumable checkpoints through the job's
// CheckpointSink, the same stage/progress/event reports as the trainer pipeline, and a few output files. It
// exercises everything around the trainer (status machine, cancel, SIGTERM, SIGKILL, lock renewal, artifacts)
// in seconds. Not exported from index.ts.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { JobPipeline, PipelineContext } from './pipeline.ts';

export interface StandInOptions {
  steps: number;
  /** Synchronous CPU time per step. */
  stepMs: number;
  /** Write a step checkpoint every N steps (0 = never). */
  checkpointEvery?: number;
  /** Throw this error at this step (after checkpointing), on the first `failTimes` runs only. */
  failAt?: { step: number; error: () => Error; times?: number };
  /** Called after each step (tests watch progress with it). */
  onStep?: (step: number, ctx: PipelineContext) => void;
}

function busy(ms: number): void {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

const encode = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v)}\n`);
const checkpointName = (step: number) => `step-${String(step).padStart(8, '0')}`;

export function standInPipeline(opts: StandInOptions): JobPipeline & { runs: number } {
  let failures = 0;
  const pipeline = async (ctx: PipelineContext) => {
    pipeline.runs++;
    ctx.stage('analyzing');
    busy(opts.stepMs);
    await ctx.publishEarly({ name: 'heads.json', source: { bytes: encode({ selected: [{ layer: 0, head: 1 }] }) }, kind: 'report' });
    ctx.stage('training');
    let step = 0;
    if (ctx.resumeFrom === 'latest') {
      const names = (await ctx.checkpointSink.list()).filter((n) => n.startsWith('step-')).sort();
      const name = names.at(-1);
      const files = name ? await ctx.checkpointSink.read(name) : null;
      if (name && files) {
        step = (JSON.parse(new TextDecoder().decode(files.get('state.json')!)) as { step: number }).step;
        ctx.event({ type: 'resumed', checkpoint: name, step });
      }
    }
    const save = async () => {
      const name = checkpointName(step);
      await ctx.checkpointSink.write(name, new Map([['state.json', encode({ step })]]));
      ctx.event({ type: 'checkpoint', name, step });
    };
    while (step < opts.steps) {
      if (ctx.signal.aborted) {
        if (opts.checkpointEvery) await save();
        throw ctx.signal.reason;
      }
      busy(opts.stepMs);
      step++;
      ctx.progress({ step, totalSteps: opts.steps, epoch: step / opts.steps, metrics: { loss: 1 / step }, etaSeconds: ((opts.steps - step) * opts.stepMs) / 1000 });
      opts.onStep?.(step, ctx);
      if (opts.checkpointEvery && step % opts.checkpointEvery === 0 && step < opts.steps) await save();
      if (opts.failAt && step === opts.failAt.step && failures < (opts.failAt.times ?? 1)) {
        failures++;
        throw opts.failAt.error();
      }
      await yieldToEventLoop();
    }
    ctx.event({ type: 'metrics', split: 'train', step, epoch: 1, values: { loss: 1 / step } });
    ctx.stage('evaluating');
    ctx.event({ type: 'metrics', split: 'eval', step, epoch: 1, values: { accuracy: 0.75 } });
    ctx.stage('exporting');
    return {
      files: [
        { name: 'heads.json', source: { bytes: encode({ selected: [{ layer: 0, head: 1 }] }) } },
        { name: 'head_mask.json', source: { bytes: encode([[0, 1]]) } },
        { name: 'heads.safetensors', source: { bytes: new Uint8Array([1, 2, 3]) } },
      ],
    };
  };
  pipeline.runs = 0;
  return pipeline;
}
