// @hifi/data: GLUE and custom datasets, batching, metrics. No dependency on tfjs or the engine.
export * from './errors.ts';
export * from './rng.ts';
export * from './example.ts';
export * from './tasks.ts';
export * from './tsv.ts';
export * from './csv.ts';
export * from './text-file.ts';
export * from './glue.ts';
export * from './crc32.ts';
export * from './zip.ts';
export * from './glue-download.ts';
export * from './custom.ts';
export * from './batching.ts';
export * from './metrics.ts';
