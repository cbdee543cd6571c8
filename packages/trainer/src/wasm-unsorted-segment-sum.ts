// UnsortedSegmentSum for the wasm backend, which ships without it. tfjs computes the gradient of tf.gather
// (the embedding lookups) with unsortedSegmentSum, so without this kernel nothing below the first encoder layer
// can be trained on wasm (the `full` strategy). The kernel runs in JavaScript directly on the wasm heap:
// out[segmentIds[i], ...] += x[i, ...], ids outside [0, numSegments) are dropped, as in TensorFlow.
import * as tf from '@tensorflow/tfjs-core';

type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The two methods of tfjs-backend-wasm's BackendWasm this kernel uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): HeapArray;
}

function isWasmHeapBackend(b: unknown): b is WasmHeapBackend {
  const o = b as Partial<WasmHeapBackend> | null;
  return typeof o?.makeOutput === 'function' && typeof o.typedArrayFromHeap === 'function';
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs.x as tf.TensorInfo;
  const segmentIds = inputs.segmentIds as tf.TensorInfo;
  const numSegments = Number((attrs as { numSegments?: number } | undefined)?.numSegments);
  if (!isWasmHeapBackend(backend)) throw new Error('UnsortedSegmentSum (wasm): backend lacks makeOutput/typedArrayFromHeap');
  if (!Number.isInteger(numSegments) || numSegments < 0) throw new Error(`UnsortedSegmentSum (wasm): numSegments must be a non-negative integer, got ${numSegments}`);
  const idRank = segmentIds.shape.length;
  if (!segmentIds.shape.every((s, i) => s === x.shape[i])) {
    throw new Error(`UnsortedSegmentSum (wasm): segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  const inner = sizeOf(x.shape.slice(idRank));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idRank)], x.dtype);
  // Views are taken after makeOutput: an allocation may grow the heap and detach earlier views.
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const acc = backend.typedArrayFromHeap(out);
  acc.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) acc[dst + j] += xs[src + j];
  }
  return out;
};

/** Registers the kernel for 'wasm' unless a kernel of that name is already there. Returns whether it registered. */
export function registerWasmUnsortedSegmentSum(): boolean {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') !== undefined) return false;
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  return true;
}
