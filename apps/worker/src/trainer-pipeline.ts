// The production pipeline: the job's model and data resolved locally, then the trainer's runTrainingPipeline.
import type { Redis } from 'ioredis';
import type { ObjectStore } from '@hifi/storage';
import type { WorkerConfig } from './config.ts';
import type { JobPipeline } from './pipeline.ts';

export interface TrainerPipelineOptions {
  config: WorkerConfig;
  store: ObjectStore;
  redis: Redis;
}

export function createTrainerPipeline(_opts: TrainerPipelineOptions): JobPipeline {
  return async () => {
    throw new Error('the trainer pipeline is not available yet');
  };
}
