// What the processor runs for one job: a JobPipeline turns a spec into local output files, reporting stages,
// progress and events as it goes. The processor owns everything around it (the job record, cancel, shutdown,
// checkpoints in object storage, the final artifact set). The production pipeline is the trainer's
// (trainer-pipeline.ts); tests can run the same processor with a small stand-in.
import type { Logger } from 'pino';
import type { JobSpec, MetricValues } from '@hifi/jobs';
import type { CheckpointSink } from '@hifi/trainer/checkpoint-sink.ts';
import type { ArtifactFile } from './artifacts.ts';

/** The running states a pipeline can report, in their only allowed order. */
export const PIPELINE_STAGES = ['analyzing', 'training', 'evaluating', 'exporting'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

export interface PipelineProgress {
  step: number;
  totalSteps: number | null;
  epoch: number | null;
  metrics: MetricValues;
  etaSeconds: number | null;
}

export type PipelineEvent =
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { type: 'metrics'; split: 'train' | 'eval'; step: number; epoch: number | null; values: MetricValues }
  | { type: 'checkpoint'; name: string; step: number }
  | { type: 'resumed'; checkpoint: string; step: number };

export interface PipelineContext {
  jobId: string;
  tenant: string;
  spec: JobSpec;
  /** Aborted on cancel, shutdown, timeout or a lost lock; the pipeline stops at its next batch (checkpointing first). */
  signal: AbortSignal;
  /** A fresh local folder for this attempt, removed afterwards. */
  workDir: string;
  checkpointSink: CheckpointSink;
  /** 'latest' when the sink holds a step checkpoint to resume from. */
  resumeFrom: 'latest' | undefined;
  logger: Logger;
  /** Moves the job forward (a stage already passed is ignored). Synchronous: writes are queued in order. */
  stage(stage: PipelineStage): void;
  progress(progress: PipelineProgress): void;
  event(event: PipelineEvent): void;
  /** Stores a file as an artifact right away (e.g. the head report once the analysis is done). */
  publishEarly(file: ArtifactFile): Promise<void>;
}

export interface PipelineResult {
  /** Every output file; they become the job's final artifact set. */
  files: ArtifactFile[];
}

export type JobPipeline = (ctx: PipelineContext) => Promise<PipelineResult>;
