// @hifi/jobs: the job contract shared by the API and the worker.
export * from './errors.ts';
export * from './ids.ts';
export * from './glue-tasks.ts';
export * from './job-spec.ts';
export * from './model-source.ts';
export * from './job-status.ts';
export * from './job-progress.ts';
export * from './job-record.ts';
export * from './job-event.ts';
export * from './dataset.ts';
export * from './redis-keys.ts';
export * from './storage-keys.ts';
export * from './job-store.ts';
export * from './dataset-store.ts';
export * from './job-subscriber.ts';
export * from './queues.ts';
export * from './validate.ts';
export { LuaScript } from './lua-script.ts';
