// Node module-resolution hook: the ES-module files under @tensorflow/tfjs-core/dist use extension-less relative
// imports ('./gradients/Abs_grad'), written for bundlers. Node needs the '.js' (or '/index.js'), so this hook adds it,
// only for imports made from inside tfjs-core's dist folder. Registered by register-gradients.ts.
const TFJS_DIST = '/@tensorflow/tfjs-core/dist/';

export async function resolve(specifier, context, nextResolve) {
  const fromTfjs = context.parentURL !== undefined && context.parentURL.includes(TFJS_DIST);
  if (fromTfjs && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    try {
      return await nextResolve(`${specifier}.js`, context);
    } catch {
      return nextResolve(`${specifier}/index.js`, context);
    }
  }
  return nextResolve(specifier, context);
}
