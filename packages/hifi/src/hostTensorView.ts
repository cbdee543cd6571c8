// Zero-copy host access to a float32 tensor of the tfjs wasm backend: a Float32Array view on the backend's
// WebAssembly heap where the tensor lives, instead of `await tensor.data()`, which copies it into a new array (and
// leaves that array to the garbage collector). Used for the head outputs, read once per layer and batch.
//
// This relies on two internals of tfjs-backend-wasm 4.x that the engine's kernels rely on too: `wasm.asm.memory`
// (the heap) and `dataIdMap.get(dataId).memoryOffset` (where a tensor's values start). When either is missing, or
// the backend is not wasm, the caller reads the tensor with data() instead.
//
// A view is valid only until the next tfjs operation (which may grow and so detach the heap) or until the tensor is
// disposed: use it synchronously, right away.
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendInternals {
  wasm?: { asm?: { memory?: { buffer: ArrayBuffer } } };
  dataIdMap?: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** A view on the tensor's values in the wasm heap, or undefined when that is not possible. */
export function wasmHeapView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32' || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const buffer = backend.wasm?.asm?.memory?.buffer;
  const info = backend.dataIdMap?.get(t.dataId as object);
  if (!(buffer instanceof ArrayBuffer) || !info || typeof info.memoryOffset !== 'number') return undefined;
  if (info.memoryOffset % 4 !== 0 || info.memoryOffset + 4 * t.size > buffer.byteLength) return undefined;
  return new Float32Array(buffer, info.memoryOffset, t.size);
}

/** Views on every tensor's values in the wasm heap (see wasmHeapView), or undefined if one of them has none. */
export function wasmHeapViews(tensors: readonly tf.Tensor[]): Float32Array[] | undefined {
  const views: Float32Array[] = [];
  for (const t of tensors) {
    const v = wasmHeapView(t);
    if (!v) return undefined;
    views.push(v);
  }
  return views;
}
