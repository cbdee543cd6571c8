// Picks the tfjs backend at run time: tfjs-node-gpu → tfjs-node → wasm → cpu, the first that loads.
// HIFI_BACKEND (tensorflow-gpu | tensorflow | wasm | cpu) forces one. The native packages are optional:
// they are not dependencies of this package (their install downloads libtensorflow), so they are imported
// by a computed name and their absence is an ordinary, logged outcome.
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendAttempt { backend: BackendName; ok: boolean; reason?: string }
export interface BackendChoice { backend: BackendName; tfBackend: string; attempts: BackendAttempt[] }

export interface BackendLogger { info(obj: object, msg: string): void; warn?(obj: object, msg: string): void }

/** Imports an optional package by a computed name (so neither TypeScript nor a bundler requires it to exist). */
export type ModuleImporter = (name: string) => Promise<unknown>;
const importByName: ModuleImporter = (name) => import(name);

async function tryBackend(name: BackendName, importModule: ModuleImporter): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
      await importModule('@tensorflow/tfjs-node-gpu');
      return 'tensorflow';
    case 'tensorflow':
      await importModule('@tensorflow/tfjs-node');
      return 'tensorflow';
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

/**
 * The Emscripten glue of tfjs-backend-wasm installs process-wide `uncaughtException`/`unhandledRejection` handlers
 * that rethrow every error together with a screenful of minified source. They do nothing useful in a server, so the
 * handlers it adds are removed again, leaving Node's (and the application's) own error handling in charge.
 */
async function withoutProcessHandlers<T>(load: () => Promise<T>): Promise<T> {
  const beforeException = new Set(process.listeners('uncaughtException'));
  const beforeRejection = new Set(process.listeners('unhandledRejection'));
  const result = await load();
  for (const l of process.listeners('uncaughtException')) if (!beforeException.has(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!beforeRejection.has(l)) process.removeListener('unhandledRejection', l);
  return result;
}

let chosen: Promise<BackendChoice> | undefined;

function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 300);
}

export interface BackendOptions {
  /** Force one backend (else HIFI_BACKEND, else the first of BACKEND_ORDER that starts). */
  prefer?: string;
  /** Where to report the choice; by default one line on stderr. */
  logger?: BackendLogger;
  /** How optional native packages are imported (tests substitute a stand-in for tfjs-node-gpu: no GPU here). */
  importModule?: ModuleImporter;
}

const stderrLogger: BackendLogger = {
  info(obj, msg) {
    const failed = (obj as { attempts?: BackendAttempt[] }).attempts?.filter((a) => !a.ok) ?? [];
    const why = failed.map((a) => `${a.backend}: ${a.reason}`).join('; ');
    process.stderr.write(`hifi: ${msg}${why ? ` (not used: ${why})` : ''}\n`);
  },
};

/** Tries the backends in order and switches tfjs to the first that starts. Prefer `initBackend` (once per process). */
export async function chooseBackend(opts: BackendOptions = {}): Promise<BackendChoice> {
    const forced = opts.prefer ?? process.env.HIFI_BACKEND;
    if (forced && !BACKEND_ORDER.includes(forced as BackendName)) {
      throw new Error(`HIFI_BACKEND=${forced} is not one of ${BACKEND_ORDER.join(', ')}`);
    }
    const order = forced ? [forced as BackendName] : BACKEND_ORDER;
    const logger = opts.logger ?? stderrLogger;
    const attempts: BackendAttempt[] = [];
    for (const name of order) {
      try {
        const tfName = await withoutProcessHandlers(async () => {
          const tfName = await tryBackend(name, opts.importModule ?? importByName);
          const ok = await tf.setBackend(tfName);
          if (!ok) throw new Error(`tf.setBackend('${tfName}') returned false`);
          await tf.ready();
          return tfName;
        });
        attempts.push({ backend: name, ok: true });
        const choice: BackendChoice = { backend: name, tfBackend: tfName, attempts };
        logger.info({ backend: name, attempts }, `tfjs backend: ${name}`);
        return choice;
      } catch (err) {
        attempts.push({ backend: name, ok: false, reason: describe(err) });
      }
    }
    throw new Error(`no tfjs backend could start: ${attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ')}`);
}

/**
 * Initialises tfjs once per process and returns which backend runs and why the others did not.
 * Later calls return the same choice (a failed first attempt may be retried).
 */
export function initBackend(opts: BackendOptions = {}): Promise<BackendChoice> {
  chosen ??= chooseBackend(opts).catch((err: unknown) => {
    chosen = undefined;
    throw err;
  });
  return chosen;
}

export { tf };
