// @hifi/worker: BullMQ workers that run fine-tuning jobs. `main.ts` is the process entry (not exported).
export { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config.ts';
export { createLogger } from './logger.ts';
export { startWorker, type RunningWorker, type StartWorkerOptions } from './worker-app.ts';
export { processFinetuneJob, type FinetuneOutcome, type FinetuneProcessorDeps } from './finetune-processor.ts';
export { PIPELINE_STAGES, type JobPipeline, type PipelineContext, type PipelineEvent, type PipelineProgress, type PipelineResult, type PipelineStage } from './pipeline.ts';
export { ObjectStoreCheckpointSink, checkpointArtifactName, checkpointOfArtifactName } from './object-store-checkpoint-sink.ts';
export { ArtifactLedger, artifactKindOf, contentTypeForArtifact, publishArtifact, publishArtifactSet, type ArtifactFile } from './artifacts.ts';
export { asUnrecoverable } from './job-errors.ts';
export { deliverWebhook, startWebhookWorker, WebhookRefusedError, webhookRetryDelay, type WebhookSettings, type WebhookWorkerOptions } from './webhooks.ts';
