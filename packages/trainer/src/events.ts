// What a training run reports while it runs: progress (often, for a bar or a job's progress field) and events
// (rarely: stage changes, evaluations, checkpoints), plus the logger shape (pino-compatible).
import type { MetricResult } from '@hifi/data';
import type { EvalRecord } from './training-state.ts';

export type PipelineStage = 'load' | 'analyze' | 'select' | 'train' | 'evaluate' | 'export' | 'done';

export interface TrainingProgress {
  stage: PipelineStage;
  /** Optimiser steps done (train stage) or batches/items done (other stages). */
  step: number;
  totalSteps: number;
  /** Fractional epochs done. */
  epoch: number;
  /** Loss of the last step; null outside training. */
  loss: number | null;
  /** Learning rate of the heads (or, under `full`, of the encoder) at the last step. */
  lr: number | null;
  /** Metrics of the last evaluation. */
  metrics?: MetricResult;
  /** Estimated seconds left in this stage; null when unknown. */
  etaSeconds: number | null;
}

export type TrainingEvent =
  | { type: 'stage'; stage: PipelineStage; message: string }
  | { type: 'resumed'; checkpoint: string; step: number }
  | { type: 'eval'; record: EvalRecord; improved: boolean }
  | { type: 'checkpoint'; name: string; step: number; reason: 'interval' | 'time' | 'eval' | 'abort' | 'best' }
  | { type: 'early-stop'; step: number; patience: number }
  | { type: 'warning'; message: string };

export interface TrainerLogger {
  info(obj: object, msg: string): void;
  warn?(obj: object, msg: string): void;
}
