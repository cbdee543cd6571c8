// hifi train: analyse a model's heads on a task, select the important ones, fine-tune them (or everything), evaluate
// and export — runTrainingPipeline of @hifi/trainer with a progress bar (TTY) or plain progress lines.
import { parseArgs } from 'node:util';
import {
  runTrainingPipeline, TRAINING_STRATEGIES, TrainingAbortedError, type Hyperparameters, type HeadRef, type PipelineBudget,
  type TrainingEvent, type TrainingPipelineSpec, type TrainingProgress, type TrainingStrategy,
} from '@hifi/trainer';

export const summary = 'analyse heads, fine-tune the selected ones (or all), evaluate and export adapter + merged model';

const HELP = `usage: hifi train --model <dir|hf:org/name[@rev]> --task <glue:NAME|file.jsonl|.csv|.tsv> --out DIR [options]

data
  --data-dir DIR              GLUE data directory (default: $GLUE_DIR)
  --validation-file FILE      validation split of a custom dataset (default: 10% held out)
  --max-train-examples N      train on a seeded sample of N examples
  --max-eval-examples N       evaluate on the first N dev examples
  --max-length N              tokens per example (default 128)
heads
  --strategy S                ${TRAINING_STRATEGIES.join(' | ')} (default hifi)
  --heads-per-layer K         select K heads in every layer (default 3)
  --heads-total N | --heads-fraction F | --max-trainable-params P   other budgets
  --heads L.H,L.H,...         train exactly these heads (skips the analysis)
  --analysis-samples N        training examples the analysis reads (default 256)
  --no-output-projection      do not train the heads' rows of the attention output projection
training
  --epochs E  --max-steps N   (default 3 epochs; with both, whichever ends first)
  --batch-size B              (default 32)
  --lr X                      learning rate of the heads (default 3e-3; of every encoder weight with --strategy full: 1e-3)
  --task-head-lr X            learning rate of the pooler/classifier (default 1e-3)
  --warmup-ratio R  --weight-decay W  --max-grad-norm G  --seed S
  --eval-interval N           evaluate every N steps (default: every epoch)
  --early-stopping-patience N stop after N evaluations without improvement
  --checkpoint-interval N     checkpoint every N steps (always at each evaluation and on Ctrl-C)
  --resume                    continue from the newest checkpoint in DIR/checkpoints
output
  --no-adapter  --no-merged   skip an export
  --json                      print the final metrics.json to stdout

Writes DIR/metrics.json, heads.json, head_mask.json, heads.svg, checkpoints/, adapter/, merged/.`;

class UsageError extends Error {
  readonly code = 'USAGE';
}

function number(v: string | undefined, name: string, check: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !check(n)) throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(v)}`);
  return n;
}
const int = (n: number) => Number.isInteger(n) && n >= 0;
const pos = (n: number) => Number.isFinite(n) && n > 0;
const nonneg = (n: number) => Number.isFinite(n) && n >= 0;

/** "0.3,1.5" → [[0,3],[1,5]] */
export function parseHeadList(s: string): HeadRef[] {
  return s.split(',').filter((x) => x.trim() !== '').map((item) => {
    const m = /^\s*(\d+)[.:](\d+)\s*$/.exec(item);
    if (!m) throw new UsageError(`--heads: "${item}" is not LAYER.HEAD (e.g. 0.3)`);
    return [Number(m[1]), Number(m[2])] as const;
  });
}

const fmtSeconds = (s: number | null) => {
  if (s === null || !Number.isFinite(s)) return '?';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m` : t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
};

/** Renders progress: a redrawn bar on a TTY, otherwise a plain line at most every few seconds. */
export class ProgressView {
  private lastPlain = 0;
  private barShown = false;
  constructor(private readonly out: NodeJS.WriteStream, private readonly tty = Boolean(out.isTTY)) {}

  line(p: TrainingProgress): string {
    const frac = p.totalSteps > 0 ? Math.min(1, p.step / p.totalSteps) : 0;
    const parts = [`[${p.stage}]`];
    if (this.tty) {
      const width = 24;
      const fill = Math.round(frac * width);
      parts.push(`${'█'.repeat(fill)}${'░'.repeat(width - fill)}`);
    }
    parts.push(`${p.step}/${p.totalSteps}`);
    if (p.stage === 'train') {
      parts.push(`ep ${p.epoch.toFixed(2)}`);
      if (p.loss !== null) parts.push(`loss ${p.loss.toFixed(4)}`);
      if (p.lr !== null) parts.push(`lr ${p.lr.toExponential(2)}`);
      if (p.metrics) parts.push(`eval ${p.metrics.main.toFixed(4)}`);
    }
    parts.push(`eta ${fmtSeconds(p.etaSeconds)}`);
    return parts.join(' ');
  }

  progress(p: TrainingProgress): void {
    if (this.tty) {
      const cols = this.out.columns ?? 100;
      this.out.write(`\r${this.line(p).slice(0, cols - 1).padEnd(Math.min(cols - 1, 100))}`);
      this.barShown = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain >= 5000 || p.step === p.totalSteps) {
      this.lastPlain = now;
      this.out.write(`${this.line(p)}\n`);
    }
  }

  /** A message on its own line (the bar is redrawn by the next progress call). */
  message(text: string): void {
    if (this.tty && this.barShown) this.out.write('\r\x1b[2K');
    this.barShown = false;
    this.out.write(`${text}\n`);
  }
}

export function describeEvent(e: TrainingEvent): string | null {
  switch (e.type) {
    case 'stage': return `== ${e.stage}: ${e.message}`;
    case 'eval': {
      const m = Object.entries(e.record.metrics).filter(([k]) => k !== 'main').map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ');
      return `   eval @ step ${e.record.step} (epoch ${e.record.epoch.toFixed(2)}): train loss ${e.record.trainLoss.toFixed(4)}, eval loss ${e.record.evalLoss.toFixed(4)}, ${m}${e.improved ? ' *best*' : ''}`;
    }
    case 'resumed': return `   resumed from ${e.checkpoint} at step ${e.step}`;
    case 'early-stop': return `   early stop at step ${e.step} (patience ${e.patience})`;
    case 'warning': return `   warning: ${e.message}`;
    case 'checkpoint': return null;
  }
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, task: { type: 'string' }, out: { type: 'string' },
        'data-dir': { type: 'string' }, 'validation-file': { type: 'string' },
        'max-train-examples': { type: 'string' }, 'max-eval-examples': { type: 'string' }, 'max-length': { type: 'string' },
        strategy: { type: 'string' }, 'heads-per-layer': { type: 'string' }, 'heads-total': { type: 'string' },
        'heads-fraction': { type: 'string' }, 'max-trainable-params': { type: 'string' }, heads: { type: 'string' },
        'analysis-samples': { type: 'string' }, 'no-output-projection': { type: 'boolean', default: false },
        epochs: { type: 'string' }, 'max-steps': { type: 'string' }, 'batch-size': { type: 'string' },
        lr: { type: 'string' }, 'task-head-lr': { type: 'string' }, 'warmup-ratio': { type: 'string' },
        'weight-decay': { type: 'string' }, 'max-grad-norm': { type: 'string' }, seed: { type: 'string' },
        'eval-interval': { type: 'string' }, 'early-stopping-patience': { type: 'string' }, 'checkpoint-interval': { type: 'string' },
        resume: { type: 'boolean', default: false }, 'no-adapter': { type: 'boolean', default: false },
        'no-merged': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`hifi train: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) { console.log(HELP); return 0; }
  let spec: TrainingPipelineSpec;
  try {
    for (const req of ['model', 'task', 'out'] as const) if (!values[req]) throw new UsageError(`--${req} is required`);
    const strategy = (values.strategy ?? 'hifi') as TrainingStrategy;
    if (!TRAINING_STRATEGIES.includes(strategy)) throw new UsageError(`--strategy must be one of ${TRAINING_STRATEGIES.join(', ')}, got ${JSON.stringify(values.strategy)}`);
    const budgets: PipelineBudget[] = [];
    const k = number(values['heads-per-layer'], 'heads-per-layer', int, 'a non-negative integer');
    if (k !== undefined) budgets.push({ perLayer: k });
    const total = number(values['heads-total'], 'heads-total', int, 'a non-negative integer');
    if (total !== undefined) budgets.push({ total });
    const fraction = number(values['heads-fraction'], 'heads-fraction', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
    if (fraction !== undefined) budgets.push({ fraction });
    const maxParams = number(values['max-trainable-params'], 'max-trainable-params', pos, 'a positive integer');
    const lr = number(values.lr, 'lr', nonneg, 'a non-negative number');
    const hp: Partial<Hyperparameters> = {
      epochs: number(values.epochs, 'epochs', nonneg, 'a non-negative number'),
      maxSteps: number(values['max-steps'], 'max-steps', int, 'a non-negative integer'),
      batchSize: number(values['batch-size'], 'batch-size', (n) => int(n) && n > 0, 'a positive integer'),
      ...(lr === undefined ? {} : strategy === 'full' ? { learningRate: lr } : { headLearningRate: lr }),
      taskHeadLearningRate: number(values['task-head-lr'], 'task-head-lr', nonneg, 'a non-negative number'),
      warmupRatio: number(values['warmup-ratio'], 'warmup-ratio', (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
      weightDecay: number(values['weight-decay'], 'weight-decay', nonneg, 'a non-negative number'),
      maxGradNorm: number(values['max-grad-norm'], 'max-grad-norm', nonneg, 'a non-negative number'),
      seed: number(values.seed, 'seed', int, 'a non-negative integer'),
      maxLength: number(values['max-length'], 'max-length', (n) => int(n) && n >= 4, 'an integer ≥ 4'),
      maxTrainExamples: number(values['max-train-examples'], 'max-train-examples', int, 'a non-negative integer'),
      maxEvalExamples: number(values['max-eval-examples'], 'max-eval-examples', int, 'a non-negative integer'),
      evalInterval: number(values['eval-interval'], 'eval-interval', int, 'a non-negative integer'),
      earlyStoppingPatience: number(values['early-stopping-patience'], 'early-stopping-patience', int, 'a non-negative integer'),
      checkpointInterval: number(values['checkpoint-interval'], 'checkpoint-interval', int, 'a non-negative integer'),
      ...(values['no-output-projection'] ? { trainOutputProjection: false } : {}),
    };
    if (maxParams !== undefined) budgets.push({ maxTrainableParams: maxParams });
    if (budgets.length > 1) throw new UsageError('give at most one of --heads-per-layer, --heads-total, --heads-fraction, --max-trainable-params');
    const budget = budgets[0];
    spec = {
      model: values.model!, task: values['validation-file'] ? { trainFile: values.task!, validationFile: values['validation-file'] } : values.task!,
      dataDir: values['data-dir'], strategy, budget, heads: values.heads ? parseHeadList(values.heads) : undefined,
      analysisSamples: number(values['analysis-samples'], 'analysis-samples', (n) => int(n) && n > 0, 'a positive integer'),
      hyperparameters: hp, outDir: values.out!, exports: { adapter: !values['no-adapter'], merged: !values['no-merged'] },
    };
  } catch (err) {
    if (err instanceof UsageError) { console.error(`hifi train: ${err.message}\n\n${HELP}`); return 2; }
    throw err;
  }

  const view = new ProgressView(process.stderr);
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    view.message('stopping at the next batch (checkpointing; press Ctrl-C again to quit at once)…');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runTrainingPipeline(spec, {
      signal: controller.signal,
      resumeFrom: values.resume ? 'latest' : undefined,
      onProgress: (p) => view.progress(p),
      onEvent: (e) => { const text = describeEvent(e); if (text) view.message(text); },
    });
    const m = result.metrics;
    if (values.json) console.log(JSON.stringify(m, null, 2));
    else {
      const shown = m.metrics ? Object.entries(m.metrics).filter(([k2]) => k2 !== 'main').map(([k2, v]) => `${k2} ${(v as number).toFixed(4)}`).join(', ') : 'no evaluation';
      console.log(`${m.task.name} ${m.strategy}: ${shown} | ${m.trainableParameters.toLocaleString('en-US')} trainable parameters (${m.trainablePercent.toFixed(3)}%) | ${m.steps} steps in ${fmtSeconds(m.seconds.train)}`);
      console.log(`outputs in ${result.outDir}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof TrainingAbortedError) {
      view.message(`stopped at step ${err.step}${err.checkpoint ? `; resume with the same command plus --resume (checkpoint ${err.checkpoint})` : ''}`);
      return 130;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
