export * from './backend.ts';
export * from './config.ts';
export * from './types.ts';
export * from './init.ts';
export * from './model.ts';
