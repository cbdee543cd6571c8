// Makes tfjs able to train: loads tfjs-core's gradient definitions and fills the wasm backend's kernel gap.
//
// tfjs-core's bundles leave the gradients out; they live in its ES-module files (dist/register_all_gradients.js),
// whose relative imports have no file extension (written for bundlers), so Node cannot load them as they are.
// A resolve hook (tfjs-esm-resolve-hook.mjs), scoped to files inside tfjs-core/dist, adds the extension. The
// gradients then register into tfjs's process-wide registry, which the main tfjs-core copy reads.
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmUnsortedSegmentSum } from './wasm-unsorted-segment-sum.ts';

let ready: Promise<void> | undefined;

/** Idempotent; call once before any gradient is computed (after or before initBackend). */
export function enableTraining(): Promise<void> {
  ready ??= (async () => {
    registerWasmUnsortedSegmentSum();
    if (tf.getGradient('BatchMatMul') === undefined) {
      register(new URL('./tfjs-esm-resolve-hook.mjs', import.meta.url));
      await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    }
    if (tf.getGradient('BatchMatMul') === undefined) throw new Error('enableTraining: tfjs gradients did not register');
  })();
  return ready;
}
