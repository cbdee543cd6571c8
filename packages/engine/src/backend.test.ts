import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BACKEND_ORDER, chooseBackend } from './backend.ts';
import type { BackendLogger } from './backend.ts';

function recordingLogger(): BackendLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (_obj, msg) => { lines.push(msg); } };
}

test('without the native packages the choice falls through to wasm and says why the others did not run', async () => {
  const logger = recordingLogger();
  const choice = await chooseBackend({ logger, prefer: undefined });
  assert.deepEqual(BACKEND_ORDER, ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  assert.equal(choice.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(choice.attempts.map((a) => [a.backend, a.ok]), [['tensorflow-gpu', false], ['tensorflow', false], ['wasm', true]]);
  assert.match(choice.attempts[0].reason!, /tfjs-node-gpu/);
  assert.match(choice.attempts[1].reason!, /tfjs-node/);
  assert.deepEqual(logger.lines, ['tfjs backend: wasm']);
});

test('a present tfjs-node-gpu wins (a CPU stand-in plays the GPU package: no GPU here)', async () => {
  const imported: string[] = [];
  const choice = await chooseBackend({
    logger: recordingLogger(),
    importModule: async (name) => {
      imported.push(name);
      if (name !== '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find package '${name}'`);
      // What the real package does on import: register a backend named "tensorflow" and its kernels.
      if (!tf.findBackendFactory('tensorflow')) {
        tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);
        for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
      }
      return {};
    },
  });
  assert.deepEqual(imported, ['@tensorflow/tfjs-node-gpu']);
  assert.equal(choice.backend, 'tensorflow-gpu');
  assert.equal(tf.getBackend(), 'tensorflow');
  const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
  assert.deepEqual(await y.data(), new Float32Array([11]));
  tf.removeBackend('tensorflow');
});

test('HIFI_BACKEND forces one backend; a bad or missing one is a clear error', async () => {
  assert.equal((await chooseBackend({ prefer: 'cpu', logger: recordingLogger() })).backend, 'cpu');
  await assert.rejects(chooseBackend({ prefer: 'metal', logger: recordingLogger() }), /HIFI_BACKEND=metal is not one of tensorflow-gpu, tensorflow, wasm, cpu/);
  await assert.rejects(chooseBackend({ prefer: 'tensorflow', logger: recordingLogger() }), /no tfjs backend could start: tensorflow: .*tfjs-node/);
});
