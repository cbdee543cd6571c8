// The BullMQ processor of a `finetune` job. The BullMQ job carries only ids; the state of record is the JobStore
// hash, which this processor moves through queued → analyzing → training → evaluating → exporting → succeeded,
// or to failed / cancelled, writing progress and events on the way. Around the pipeline it owns:
//   - cancel: the job's AbortController is aborted by a message on the cancel channel (or a poll of the record's
//     cancelRequested flag, in case a message was missed); the pipeline stops at its next batch → `cancelled`;
//   - shutdown (SIGTERM): the pipeline checkpoints and stops; the job goes back to the queue with moveToWait +
//     WaitingError, which does not use up an attempt, and resumes from that checkpoint on the next worker;
//   - a crash or SIGKILL: BullMQ's stalled-job check puts the job back; the next attempt finds the newest step
//     checkpoint in object storage, resumes from it and records `resumedFromStep`;
//   - errors: bad input → failed at once (UnrecoverableJobError, no retries); anything else is rethrown so
//     BullMQ retries it, and only the last attempt marks the job failed;
//   - the final artifact set, promoted only when every file is stored, and the webhook of the terminal state.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UnrecoverableError, WaitingError, type Job as BullJob } from 'bullmq';
import type { Logger } from 'pino';
import {
  check,
  FinetuneJobData,
  isTerminal,
  JobSpec,
  metricsFromEvents,
  UnrecoverableJobError,
  type Job,
  type JobErrorInfo,
  type JobEvent,
  type JobStatus,
  type JobStore,
  type UpdateStatusOptions,
} from '@hifi/jobs';
import type { ObjectStore } from '@hifi/storage';
import { ArtifactLedger, publishArtifact, publishArtifactSet, type ArtifactFile } from './artifacts.ts';
import { asUnrecoverable, describeError } from './job-errors.ts';
import { JobReporter } from './job-reporter.ts';
import { checkpointOfArtifactName, ObjectStoreCheckpointSink } from './object-store-checkpoint-sink.ts';
import type { JobPipeline, PipelineContext } from './pipeline.ts';
import { stopReasonOf, type RunningJobs } from './running-jobs.ts';

export interface FinetuneProcessorDeps {
  jobs: JobStore;
  store: ObjectStore;
  pipeline: JobPipeline;
  running: RunningJobs;
  logger: Logger;
  /** Scratch space; each attempt gets a fresh folder under it, removed afterwards. */
  workDir: string;
  jobTimeoutMs: number;
  /** How often the record's cancelRequested flag is polled (besides pub/sub). Default 2000 ms. */
  cancelPollMs?: number;
  /** Called with the job once it reached a terminal state (webhooks). Errors are logged, not thrown. */
  onTerminal?: (job: Job) => Promise<unknown>;
}

export type FinetuneOutcome =
  | { status: 'succeeded'; artifacts: number; resumedFromStep: number | null }
  | { status: 'cancelled' }
  | { status: 'skipped'; reason: string };

export type FinetuneBullJob = BullJob<FinetuneJobData, FinetuneOutcome, 'finetune'>;

/** The newest `step-N` checkpoint of a sink, with its step. */
async function latestStepCheckpoint(sink: ObjectStoreCheckpointSink): Promise<{ name: string; step: number } | null> {
  let best: { name: string; step: number } | null = null;
  for (const name of await sink.list()) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && (best === null || Number(m[1]) > best.step)) best = { name, step: Number(m[1]) };
  }
  return best;
}

async function allEvents(jobs: JobStore, jobId: string): Promise<JobEvent[]> {
  const out: JobEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await jobs.readEvents(jobId, { after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page.at(-1)!.id;
  }
}

export async function processFinetuneJob(bullJob: FinetuneBullJob, token: string | undefined, deps: FinetuneProcessorDeps): Promise<FinetuneOutcome> {
  const payload = check(FinetuneJobData, bullJob.data);
  if (!payload.ok) {
    deps.logger.error({ bullJobId: bullJob.id, errors: payload.errors }, 'finetune job with an unreadable payload');
    throw new UnrecoverableError(`unreadable job payload: ${payload.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`);
  }
  const { jobId, tenant } = payload.value;
  const attempt = bullJob.attemptsMade + 1;
  const maxAttempts = bullJob.opts.attempts ?? 1;
  const log = deps.logger.child({ jobId, attempt });
  const { jobs } = deps;

  /** A status change that may find the job moved on (deleted, cancelled meanwhile): logged, never thrown. */
  const moveTo = async (to: JobStatus, opts: UpdateStatusOptions = {}): Promise<boolean> => {
    try {
      const r = await jobs.updateStatus(jobId, to, opts);
      return r.changed;
    } catch (err) {
      log.warn({ err: describeError(err), to }, `could not move the job to ${to}`);
      return false;
    }
  };
  const terminal = async (to: 'succeeded' | 'failed' | 'cancelled', opts: UpdateStatusOptions = {}): Promise<void> => {
    if (!(await moveTo(to, opts))) return;
    log.info({ status: to, ...(opts.error ? { error: opts.error } : {}) }, `job ${to}`);
    const job = await jobs.get(jobId).catch(() => null);
    if (job && deps.onTerminal) await deps.onTerminal(job).catch((err: unknown) => log.warn({ err: describeError(err) }, 'could not queue the webhook'));
  };
  const fail = async (error: JobErrorInfo): Promise<void> => {
    await terminal('failed', { error });
  };

  const controller = deps.running.start(jobId);
  const timers: NodeJS.Timeout[] = [];
  let workDir: string | null = null;
  let reporter: JobReporter | null = null;
  try {
    const job = await jobs.get(jobId);
    if (!job) {
      log.warn('the job record is gone (deleted?); dropping the queue entry');
      return { status: 'skipped', reason: 'missing' };
    }
    if (isTerminal(job.status)) {
      log.info({ status: job.status }, `job is already ${job.status}; not running it`);
      return { status: 'skipped', reason: job.status };
    }
    if (job.cancelRequested) {
      await terminal('cancelled', { reason: 'cancelled before the worker started it' });
      return { status: 'cancelled' };
    }
    const spec = check(JobSpec, job.spec);
    if (!spec.ok) {
      const message = `the stored job spec does not match this worker's contract: ${spec.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`;
      await fail({ code: 'INVALID_JOB_SPEC', message });
      throw new UnrecoverableJobError('INVALID_JOB_SPEC', message);
    }
    if (job.status !== 'queued') {
      // The worker that ran it before stopped (crash, SIGKILL, lost lock): back to queued, then forward again.
      await moveTo('queued', { reason: `picked up again after its worker stopped (attempt ${attempt})` });
    }

    timers.push(setTimeout(() => deps.running.stop(jobId, 'timeout'), deps.jobTimeoutMs));
    const poll = setInterval(() => {
      jobs.isCancelRequested(jobId).then(
        (requested) => requested && deps.running.stop(jobId, 'cancel'),
        () => {},
      );
    }, deps.cancelPollMs ?? 2000);
    timers.push(poll);

    await mkdir(deps.workDir, { recursive: true });
    workDir = await mkdtemp(join(deps.workDir, `${jobId}-`));
    const ledger = new ArtifactLedger(jobs, jobId);
    const sink = new ObjectStoreCheckpointSink({ store: deps.store, ledger, tmpDir: workDir });
    const latest = await latestStepCheckpoint(sink);
    reporter = new JobReporter(jobs, jobId, log, 'queued', latest ? { resumedFromStep: latest.step } : {});
    if (latest) reporter.event({ type: 'log', level: 'info', message: `resuming from checkpoint ${latest.name} (step ${latest.step})` });
    log.info({ queue: job.spec.queue, model: job.spec.model, task: job.spec.task, resumeFrom: latest?.name ?? null }, 'job started');

    const r = reporter;
    const ctx: PipelineContext = {
      jobId,
      tenant,
      spec: spec.value,
      signal: controller.signal,
      workDir,
      checkpointSink: sink,
      resumeFrom: latest ? 'latest' : undefined,
      logger: log,
      stage: (s) => r.stage(s),
      progress: (p) => r.progress(p),
      event: (e) => r.event(e),
      publishEarly: async (file) => {
        await publishArtifact(deps.store, ledger, file);
      },
    };
    const result = await deps.pipeline(ctx);
    const stopped = stopReasonOf(controller.signal);
    if (stopped === 'cancel' || stopped === 'timeout' || stopped === 'lock-lost') throw controller.signal.reason;

    r.stage('exporting');
    await r.flush();
    const files: ArtifactFile[] = result.files.map((f) => (f.name === 'metrics.json' ? { ...f, name: 'training-metrics.json' } : f));
    const metrics = { ...metricsFromEvents(jobId, await allEvents(jobs, jobId)), final: true };
    files.push({ name: 'metrics.json', source: { bytes: new TextEncoder().encode(`${JSON.stringify(metrics, null, 2)}\n`) }, kind: 'metrics' });
    const keep = (await ledger.names()).filter((n) => checkpointOfArtifactName(n) !== null);
    const artifacts = await publishArtifactSet(deps.store, ledger, files, keep);
    log.info({ artifacts: artifacts.length + keep.length }, 'artifacts stored');
    await terminal('succeeded');
    return { status: 'succeeded', artifacts: artifacts.length + keep.length, resumedFromStep: latest?.step ?? null };
  } catch (err) {
    await reporter?.flush().catch(() => {});
    const stopped = stopReasonOf(controller.signal);
    if (stopped === 'cancel') {
      await terminal('cancelled', { reason: 'cancelled by request' });
      return { status: 'cancelled' };
    }
    if (stopped === 'lock-lost') {
      log.warn('lost the job lock (another worker may run it now); stopped without touching the record');
      throw err;
    }
    if (stopped === 'shutdown') {
      await moveTo('queued', { reason: 'the worker is shutting down; the job goes back to the queue and resumes from its last checkpoint' });
      await bullJob.moveToWait(token);
      log.info('released the job back to the queue');
      throw new WaitingError();
    }
    if (stopped === 'timeout') {
      const e = new UnrecoverableJobError('JOB_TIMEOUT', `the job ran longer than ${Math.round(deps.jobTimeoutMs / 1000)} s`);
      await fail(e.toJobError());
      throw e;
    }
    const bad = asUnrecoverable(err);
    if (bad) {
      await fail(bad.toJobError());
      throw bad;
    }
    const message = describeError(err);
    if (attempt >= maxAttempts) {
      log.error({ err }, `attempt ${attempt} of ${maxAttempts} failed; giving up`);
      await fail({ code: 'INTERNAL', message: `failed after ${attempt} attempts: ${message}` });
    } else {
      log.warn({ err }, `attempt ${attempt} of ${maxAttempts} failed; BullMQ will retry`);
      await moveTo('queued', { reason: `attempt ${attempt} failed (${message}); retrying` });
    }
    throw err;
  } finally {
    for (const t of timers) clearTimeout(t);
    deps.running.finish(jobId, controller);
    if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}
