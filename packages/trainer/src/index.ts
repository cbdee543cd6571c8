// @hifi/trainer: fine-tune the selected attention heads (or everything) of a BERT/RoBERTa model, checkpoint and
// resume exactly, evaluate with the task's metrics, and export adapters and merged Hugging Face checkpoints.
export * from './errors.ts';
export * from './enable-training.ts';
export * from './head-slices.ts';
export * from './trainable.ts';
export * from './adamw.ts';
export * from './lr-schedule.ts';
export * from './loss.ts';
export * from './hyperparameters.ts';
export * from './trainer.ts';
export * from './evaluate.ts';
export * from './events.ts';
export * from './checkpoint-sink.ts';
export * from './training-state.ts';
export * from './train-loop.ts';
export * from './testing.ts';
export * from './base-fingerprint.ts';
export * from './adapter.ts';
export * from './merged-export.ts';
export * from './export-trained.ts';
export * from './apply-adapter.ts';
export * from './pipeline.ts';
