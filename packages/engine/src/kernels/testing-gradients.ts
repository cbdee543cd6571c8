// For the engine's own tests: loads tfjs-core's gradient definitions (the trainer has its own, fuller, set-up in
// @hifi/trainer's enableTraining; the engine does not import the trainer). tfjs-core ships its gradients only as
// extension-less ES modules; a resolve hook, registered from a data: URL and scoped to tfjs-core/dist, adds '.js'.
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

const RESOLVE_HOOK = `export async function resolve(s, c, next) {
  if (c.parentURL && c.parentURL.includes('/@tensorflow/tfjs-core/dist/') && s.startsWith('.') && !s.endsWith('.js')) {
    try { return await next(s + '.js', c); } catch { return next(s + '/index.js', c); }
  }
  return next(s, c);
}`;

let loaded: Promise<void> | undefined;

export function loadTfjsGradients(): Promise<void> {
  loaded ??= (async () => {
    if (tf.getGradient('BatchMatMul') !== undefined) return;
    register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  })();
  return loaded;
}
