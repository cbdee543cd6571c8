// Writes what a running job reports to its record in Redis, in order: stage changes (forward only), progress
// (JobStore throttles it) and typed events. Pipelines call it synchronously from training callbacks, so writes
// are queued on one promise chain; the first failed write is kept and thrown by `flush()`, which the processor
// awaits at every stage boundary and at the end (a Redis failure then fails the attempt and BullMQ retries it).
import type { Logger } from 'pino';
import type { JobStore, JobStatus, MetricValues } from '@hifi/jobs';
import { PIPELINE_STAGES, type PipelineEvent, type PipelineProgress, type PipelineStage } from './pipeline.ts';
import { checkpointArtifactName } from './object-store-checkpoint-sink.ts';

export class JobReporter {
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private current: JobStatus;
  private resumedFromStep: number | undefined;
  /** The newest metrics of each split, merged into progress reports. */
  private latest: { train: MetricValues; eval: MetricValues } = { train: {}, eval: {} };

  constructor(
    private readonly jobs: JobStore,
    readonly jobId: string,
    private readonly log: Logger,
    initial: JobStatus,
    /** Recorded on the job with the first stage change when this attempt resumes from a checkpoint. */
    opts: { resumedFromStep?: number } = {},
  ) {
    this.current = initial;
    this.resumedFromStep = opts.resumedFromStep;
  }

  get status(): JobStatus {
    return this.current;
  }

  private enqueue(what: string, write: () => Promise<unknown>): void {
    this.chain = this.chain.then(async () => {
      if (this.failure !== null) return;
      try {
        await write();
      } catch (err) {
        this.failure = err;
        this.log.warn({ err, what }, 'could not record job update');
      }
    });
  }

  /** Moves to `stage` if it lies ahead of the current one. */
  stage(stage: PipelineStage, reason?: string): void {
    const order = (s: JobStatus) => PIPELINE_STAGES.indexOf(s as PipelineStage);
    if (order(stage) <= order(this.current)) return;
    this.current = stage;
    const resumedFromStep = this.resumedFromStep;
    this.resumedFromStep = undefined;
    this.log.info({ stage, ...(resumedFromStep === undefined ? {} : { resumedFromStep }) }, `stage ${stage}`);
    this.enqueue(`status ${stage}`, () =>
      this.jobs.updateStatus(this.jobId, stage, {
        ...(reason === undefined ? {} : { reason }),
        ...(resumedFromStep === undefined ? {} : { resumedFromStep }),
      }),
    );
  }

  progress(p: PipelineProgress, opts: { force?: boolean } = {}): void {
    const stage = this.current;
    const metrics = { ...(stage === 'training' ? this.latest.train : {}), ...this.latest.eval, ...p.metrics };
    this.enqueue('progress', () =>
      this.jobs.setProgress(this.jobId, { stage, step: p.step, totalSteps: p.totalSteps, epoch: p.epoch, metrics, etaSeconds: p.etaSeconds }, opts),
    );
  }

  event(e: PipelineEvent): void {
    switch (e.type) {
      case 'log':
        this.log[e.level === 'debug' ? 'debug' : e.level]({ event: 'log' }, e.message);
        this.enqueue('log event', () => this.jobs.appendEvent(this.jobId, { type: 'log', data: { level: e.level, message: e.message } }));
        return;
      case 'metrics':
        this.latest[e.split] = e.values;
        this.log.info({ split: e.split, step: e.step, values: e.values }, `${e.split} metrics at step ${e.step}`);
        this.enqueue('metrics event', () => this.jobs.appendEvent(this.jobId, { type: 'metrics', data: { split: e.split, step: e.step, epoch: e.epoch, values: e.values } }));
        return;
      case 'checkpoint':
        this.log.info({ checkpoint: e.name, step: e.step }, `checkpoint ${e.name}`);
        this.enqueue('checkpoint event', () => this.jobs.appendEvent(this.jobId, { type: 'checkpoint', data: { step: e.step, artifact: checkpointArtifactName(e.name) } }));
        return;
      case 'resumed': {
        const message = `resumed from checkpoint ${e.checkpoint} at step ${e.step}`;
        this.log.info({ checkpoint: e.checkpoint, step: e.step }, message);
        this.enqueue('resume event', () => this.jobs.appendEvent(this.jobId, { type: 'log', data: { level: 'info', message } }));
        return;
      }
    }
  }

  /** Waits for every queued write; throws the first one that failed. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failure !== null) throw this.failure;
  }
}
