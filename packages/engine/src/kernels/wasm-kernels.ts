// Fast kernels for the tfjs wasm backend, registered as tfjs kernels with gradients so they take part in autodiff:
//   HifiLinear     x·W + b through XNNPACK (the fused matmul with bias), with a backward pass that feeds XNNPACK only
//                  untransposed operands (the wasm BatchMatMul falls back to a naive loop for transposeA/B)
//   HifiAttention  softmax(QKᵀ·scale + mask)·dropout·headMask·V for all heads at once, straight from the fused
//                  [N, 3C] QKV projection to the merged [N, C] context (WebAssembly SIMD, hifi-kernels.as)
//   HifiGelu       exact-erf GELU;  HifiLayerNorm  LayerNorm over the last axis;  HifiDropout  counter-hash dropout
//   HifiGatherRows embedding lookup (rows of a table)
// The kernels run on the tfjs heap directly: the module imports the backend's WebAssembly.Memory, and tensors are
// addressed by their offsets on it. Everything here is only used when tf.getBackend() === 'wasm'.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { dropThreshold, keepScale, seedMix } from './dropout-hash.ts';

/** The WebAssembly API (the project's TypeScript lib settings do not declare it). */
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The parts of tfjs-backend-wasm's BackendWasm that the kernels use. */
interface WasmBackend {
  wasm: { asm: { memory: { buffer: ArrayBuffer } }; _malloc(bytes: number): number; _free(ptr: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  incRef(dataId: object): void;
}

/** The functions exported by hifi-kernels.wasm (pointers are byte offsets on the tfjs heap). */
interface KernelExports {
  dropout(x: number, y: number, n: number, threshold: number, keepScale: number, seedMix: number): void;
  gelu(x: number, y: number, n: number): void;
  geluGrad(dy: number, x: number, dx: number, n: number): void;
  geluWithGrad(x: number, y: number, dydx: number, n: number): void;
  layerNorm(x: number, gamma: number, beta: number, y: number, stats: number, rows: number, C: number, eps: number): void;
  layerNormGradX(dy: number, x: number, gamma: number, stats: number, dx: number, rows: number, C: number): void;
  attentionScratchBytes(T: number, d: number): number;
  attentionForward(qkv: number, rowStride: number, qOff: number, kOff: number, vOff: number, out: number, stats: number,
    mask: number, headMask: number, B: number, T: number, H: number, d: number, scale: number,
    threshold: number, keepScale: number, seedMix: number, scratch: number): void;
  attentionBackward(qkv: number, rowStride: number, qOff: number, kOff: number, vOff: number, dout: number, stats: number,
    mask: number, headMask: number, B: number, T: number, H: number, d: number, scale: number,
    threshold: number, keepScale: number, seedMix: number, dqkv: number, dHeadMask: number, scratch: number): void;
  transpose2d(x: number, y: number, R: number, C: number): void;
  scatterAddRows(rows: number, ids: number, out: number, n: number, C: number): void;
  gatherRows(table: number, ids: number, out: number, n: number, C: number, V: number): number;
  permuteHeads(x: number, y: number, B: number, T: number, H: number, d: number, toHeads: boolean): void;
  sumRows(x: number, out: number, R: number, C: number): void;
}

export const KERNEL_NAMES = {
  linear: 'HifiLinear',
  attention: 'HifiAttention',
  attentionGrad: 'HifiAttentionGrad',
  gelu: 'HifiGelu',
  geluGrad: 'HifiGeluGrad',
  geluWithGrad: 'HifiGeluWithGrad',
  layerNorm: 'HifiLayerNorm',
  layerNormGradX: 'HifiLayerNormGradX',
  dropout: 'HifiDropout',
  gatherRows: 'HifiGatherRows',
  scatterAddRows: 'HifiScatterAddRows',
  transpose2d: 'HifiTranspose2D',
  permuteHeads: 'HifiPermuteHeads',
  sumRows: 'HifiSumRows',
} as const;

let kernels: KernelExports | undefined;
let loadFailure: string | undefined;
let enabled = process.env.HIFI_FAST_KERNELS !== '0';

/** Turns the fast kernels on or off for this process (tests compare both paths; HIFI_FAST_KERNELS=0 sets off). */
export function setFastKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The optimisations the model can use one by one (bench/engine.ts --ablation turns each off in turn). */
export const FAST_KERNELS = ['linear', 'attention', 'gelu', 'layerNorm', 'dropout', 'gather', 'sharedIdentity'] as const;
export type FastKernel = (typeof FAST_KERNELS)[number];
const switchedOff = new Set<FastKernel>();
let copyingIdentity: tf.KernelConfig | undefined;
let sharingIdentity: tf.KernelConfig | undefined;

/** Turns one optimisation on or off (all are on by default). */
export function setFastKernelEnabled(kernel: FastKernel, on: boolean): void {
  if (on) switchedOff.delete(kernel);
  else switchedOff.add(kernel);
  if (kernel === 'sharedIdentity' && copyingIdentity && sharingIdentity) {
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel(on ? sharingIdentity : copyingIdentity);
  }
}

/** True when the fast kernels are available and this one is not switched off. */
export function fastKernelEnabled(kernel: FastKernel): boolean {
  return fastKernelsAvailable() && !switchedOff.has(kernel);
}

function ptr(backend: WasmBackend, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('tensor is not on the wasm backend');
  return data.memoryOffset;
}

function numAttr(attrs: NamedAttrMap | undefined, name: string): number {
  const v = attrs?.[name];
  if (typeof v !== 'number') throw new Error(`kernel attribute ${name} must be a number`);
  return v;
}

/** Runs fn with `bytes` of scratch memory on the wasm heap. */
function withScratch<T>(backend: WasmBackend, bytes: number, fn: (scratch: number) => T): T {
  const p = backend.wasm._malloc(bytes);
  try {
    return fn(p);
  } finally {
    backend.wasm._free(p);
  }
}

/** Dropout attributes → the three numbers the wasm kernels take. */
function dropoutArgs(attrs: NamedAttrMap | undefined): [threshold: number, keepScale: number, seedMix: number] {
  const rate = numAttr(attrs, 'rate');
  if (rate === 0) return [0, 1, 0];
  return [dropThreshold(rate), keepScale(rate), seedMix(numAttr(attrs, 'seed'))];
}

/** Reshaped view of a tensor info (no copy): the wasm kernels address data by dataId. */
const view = (t: TensorInfo, shape: number[]): TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });

/**
 * tfjs keeps every tensor a gradient needs by cloning it (engine.saveTensorsForBackwardMode → Identity), and the wasm
 * backend's Identity copies the data. Tensors are immutable, so sharing the buffer is enough (what the cpu backend and
 * the wasm Reshape already do): the clone takes a reference, and the buffer is freed with its last tensor.
 */
function shareIdentityBuffers(): void {
  const copying = tf.getKernel('Identity', 'wasm');
  if (!copying) return;
  copyingIdentity = copying;
  sharingIdentity = {
    kernelName: 'Identity', backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs.x as TensorInfo;
      if (x.dtype === 'string') return copying.kernelFunc(args);
      (args.backend as WasmBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  };
  if (switchedOff.has('sharedIdentity')) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel(sharingIdentity);
}

function registerWasmKernels(k: KernelExports): void {
  const fusedMatMul = tf.getKernel('_FusedMatMul', 'wasm');
  if (!fusedMatMul) throw new Error('the wasm backend has no _FusedMatMul kernel');
  shareIdentityBuffers();

  tf.registerKernel({
    kernelName: KERNEL_NAMES.linear, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x, w, b } = inputs as { x: TensorInfo; w: TensorInfo; b: TensorInfo };
      const [N, K] = x.shape;
      const M = w.shape[1];
      const out = fusedMatMul.kernelFunc({
        inputs: { a: view(x, [1, N, K]), b: view(w, [1, K, M]), bias: b },
        backend,
        attrs: { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 },
      }) as TensorInfo;
      return { dataId: out.dataId, shape: [N, M], dtype: out.dtype };
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.attention, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be, attrs }) => {
      const backend = be as WasmBackend;
      const { qkv, mask, headMask } = inputs as { qkv: TensorInfo; mask: TensorInfo; headMask: TensorInfo };
      const [B, T, H, d] = ['B', 'T', 'H', 'd'].map((n) => numAttr(attrs, n));
      const C = H * d;
      const out = backend.makeOutput([B * T, C], 'float32');
      const stats = backend.makeOutput([B, H, T, 2], 'float32');
      const [threshold, scale, mix] = dropoutArgs(attrs);
      withScratch(backend, k.attentionScratchBytes(T, d), (scratch) => k.attentionForward(
        ptr(backend, qkv), 3 * C, 0, C, 2 * C, ptr(backend, out), ptr(backend, stats),
        ptr(backend, mask), attrs?.useHeadMask ? ptr(backend, headMask) : 0, B, T, H, d, numAttr(attrs, 'scale'),
        threshold, scale, mix, scratch));
      return [out, stats];
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.attentionGrad, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be, attrs }) => {
      const backend = be as WasmBackend;
      const { dy, qkv, stats, mask, headMask } = inputs as Record<string, TensorInfo>;
      const [B, T, H, d] = ['B', 'T', 'H', 'd'].map((n) => numAttr(attrs, n));
      const C = H * d;
      const dqkv = backend.makeOutput([B * T, 3 * C], 'float32');
      const dHeadMask = backend.makeOutput([B, H], 'float32');
      const [threshold, scale, mix] = dropoutArgs(attrs);
      withScratch(backend, k.attentionScratchBytes(T, d), (scratch) => k.attentionBackward(
        ptr(backend, qkv), 3 * C, 0, C, 2 * C, ptr(backend, dy), ptr(backend, stats),
        ptr(backend, mask), attrs?.useHeadMask ? ptr(backend, headMask) : 0, B, T, H, d, numAttr(attrs, 'scale'),
        threshold, scale, mix, ptr(backend, dqkv), ptr(backend, dHeadMask), scratch));
      return [dqkv, dHeadMask];
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.gelu, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const x = inputs.x as TensorInfo;
      const y = backend.makeOutput([...x.shape], 'float32');
      k.gelu(ptr(backend, x), ptr(backend, y), tf.util.sizeFromShape(x.shape));
      return y;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.geluWithGrad, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const x = inputs.x as TensorInfo;
      const y = backend.makeOutput([...x.shape], 'float32');
      const dydx = backend.makeOutput([...x.shape], 'float32');
      k.geluWithGrad(ptr(backend, x), ptr(backend, y), ptr(backend, dydx), tf.util.sizeFromShape(x.shape));
      return [y, dydx];
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.geluGrad, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
      const dx = backend.makeOutput([...x.shape], 'float32');
      k.geluGrad(ptr(backend, dy), ptr(backend, x), ptr(backend, dx), tf.util.sizeFromShape(x.shape));
      return dx;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.layerNorm, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be, attrs }) => {
      const backend = be as WasmBackend;
      const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
      const C = x.shape[x.shape.length - 1];
      const rows = tf.util.sizeFromShape(x.shape) / C;
      const y = backend.makeOutput([...x.shape], 'float32');
      const stats = backend.makeOutput([rows, 2], 'float32');
      k.layerNorm(ptr(backend, x), ptr(backend, gamma), ptr(backend, beta), ptr(backend, y), ptr(backend, stats), rows, C, numAttr(attrs, 'eps'));
      return [y, stats];
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.layerNormGradX, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const { dy, x, gamma, stats } = inputs as Record<string, TensorInfo>;
      const C = x.shape[x.shape.length - 1];
      const rows = tf.util.sizeFromShape(x.shape) / C;
      const dx = backend.makeOutput([...x.shape], 'float32');
      k.layerNormGradX(ptr(backend, dy), ptr(backend, x), ptr(backend, gamma), ptr(backend, stats), ptr(backend, dx), rows, C);
      return dx;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.dropout, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be, attrs }) => {
      const backend = be as WasmBackend;
      const x = inputs.x as TensorInfo;
      const y = backend.makeOutput([...x.shape], 'float32');
      const [threshold, scale, mix] = dropoutArgs(attrs);
      k.dropout(ptr(backend, x), ptr(backend, y), tf.util.sizeFromShape(x.shape), threshold, scale, mix);
      return y;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.gatherRows, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const { table, ids } = inputs as { table: TensorInfo; ids: TensorInfo };
      const [V, C] = table.shape;
      const n = tf.util.sizeFromShape(ids.shape);
      const out = backend.makeOutput([n, C], 'float32');
      const bad = k.gatherRows(ptr(backend, table), ptr(backend, ids), ptr(backend, out), n, C, V);
      if (bad >= 0) {
        const id = new Int32Array(backend.wasm.asm.memory.buffer, ptr(backend, ids), n)[bad];
        throw new Error(`embedding index ${id} (position ${bad}) is outside the table's ${V} rows`);
      }
      return out;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.scatterAddRows, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be, attrs }) => {
      const backend = be as WasmBackend;
      const { rows, ids } = inputs as { rows: TensorInfo; ids: TensorInfo };
      const V = numAttr(attrs, 'numRows');
      const C = rows.shape[rows.shape.length - 1];
      const n = tf.util.sizeFromShape(ids.shape);
      const out = backend.makeOutput([V, C], 'float32');
      new Float32Array(backend.wasm.asm.memory.buffer, ptr(backend, out), V * C).fill(0);
      k.scatterAddRows(ptr(backend, rows), ptr(backend, ids), ptr(backend, out), n, C);
      return out;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.transpose2d, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const x = inputs.x as TensorInfo;
      const [R, C] = x.shape;
      const y = backend.makeOutput([C, R], 'float32');
      k.transpose2d(ptr(backend, x), ptr(backend, y), R, C);
      return y;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.sumRows, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be }) => {
      const backend = be as WasmBackend;
      const x = inputs.x as TensorInfo;
      const [R, C] = x.shape;
      const y = backend.makeOutput([C], 'float32');
      k.sumRows(ptr(backend, x), ptr(backend, y), R, C);
      return y;
    },
  });

  tf.registerKernel({
    kernelName: KERNEL_NAMES.permuteHeads, backendName: 'wasm',
    kernelFunc: ({ inputs, backend: be, attrs }) => {
      const backend = be as WasmBackend;
      const x = inputs.x as TensorInfo;
      const [B, T, H, d] = ['B', 'T', 'H', 'd'].map((n) => numAttr(attrs, n));
      const toHeads = attrs?.toHeads === true;
      const y = backend.makeOutput(toHeads ? [B, H, T, d] : [B * T, H * d], 'float32');
      k.permuteHeads(ptr(backend, x), ptr(backend, y), B, T, H, d, toHeads);
      return y;
    },
  });
}

function registerGradients(): void {
  tf.registerGradient({
    kernelName: KERNEL_NAMES.linear,
    inputsToSave: ['x', 'w'],
    gradFunc: (dy, saved) => {
      const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return {
        x: () => tf.matMul(g, transpose2d(w)),
        // xᵀ·dy, transposing the narrower of x and dy (measured: 13.2 vs 15.6 ms for x [4096, 512], dy [4096, 128])
        w: () => (x.shape[1] <= g.shape[1] ? tf.matMul(transpose2d(x), g) : transpose2d(tf.matMul(transpose2d(g), x))),
        b: () => tf.engine().runKernel<tf.Tensor>(KERNEL_NAMES.sumRows, { x: g }), // tf.sum(g, 0) is slow on wasm
      };
    },
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.attention,
    inputsToSave: ['qkv', 'mask', 'headMask'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy] = dys as tf.Tensor[];
      const [qkv, mask, headMask, stats] = saved;
      // One backward kernel yields both gradients. Each thunk runs in its own tidy and only when its input is on the
      // path to the loss, so they cannot share results: when both are wanted the kernel runs twice.
      const backward = () => tf.engine().runKernel<tf.Tensor[]>(KERNEL_NAMES.attentionGrad, { dy, qkv, stats, mask, headMask }, attrs);
      return {
        qkv: () => backward()[0],
        mask: () => tf.zerosLike(mask),
        headMask: () => tf.sum(backward()[1], 0),
      };
    },
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.gelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel<tf.Tensor>(KERNEL_NAMES.geluGrad, { dy: dy as tf.Tensor, x: saved[0] }) }),
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.geluWithGrad,
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => ({ x: () => tf.mul((dys as tf.Tensor[])[0], saved[0]) }),
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.layerNorm,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => {
      const [dy] = dys as tf.Tensor[];
      const [x, gamma, stats] = saved;
      const C = x.shape[x.shape.length - 1];
      // x̂ = (x − mean)·rstd, rebuilt from the saved statistics for the (rarely trained) scale and shift
      const xhat = () => {
        const s = tf.reshape(stats, [-1, 2]);
        const mean = tf.slice(s, [0, 0], [-1, 1]);
        const rstd = tf.slice(s, [0, 1], [-1, 1]);
        return tf.mul(tf.sub(tf.reshape(x, [-1, C]), mean), rstd);
      };
      return {
        x: () => tf.engine().runKernel<tf.Tensor>(KERNEL_NAMES.layerNormGradX, { dy, x, gamma, stats }),
        gamma: () => tf.sum(tf.mul(tf.reshape(dy, [-1, C]), xhat()), 0),
        beta: () => tf.sum(tf.reshape(dy, [-1, C]), 0),
      };
    },
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.dropout,
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.engine().runKernel<tf.Tensor>(KERNEL_NAMES.dropout, { x: dy as tf.Tensor }, attrs) }),
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.gatherRows,
    inputsToSave: ['ids'], // not the table: saving it would copy it; its row count is an attribute
    gradFunc: (dy, saved, attrs) => {
      const [ids] = saved;
      return {
        table: () => tf.engine().runKernel<tf.Tensor>(KERNEL_NAMES.scatterAddRows, { rows: dy as tf.Tensor, ids }, { numRows: numAttr(attrs, 'numRows') }),
        ids: () => tf.zerosLike(ids),
      };
    },
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.permuteHeads,
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.engine().runKernel<tf.Tensor>(KERNEL_NAMES.permuteHeads, { x: dy as tf.Tensor }, { ...attrs, toHeads: !attrs.toHeads }) }),
  });

  tf.registerGradient({
    kernelName: KERNEL_NAMES.transpose2d,
    gradFunc: (dy) => ({ x: () => transpose2d(dy as tf.Tensor2D) }),
  });
}

/**
 * True when the fast kernels run for the current backend: it is 'wasm' and the kernel module loaded (first call
 * loads and registers it). HIFI_FAST_KERNELS=0 turns them off (the model then uses plain tfjs ops).
 */
export function fastKernelsAvailable(): boolean {
  if (!enabled || tf.getBackend() !== 'wasm') return false;
  if (kernels) return true;
  if (loadFailure) return false;
  try {
    const backend = tf.backend() as unknown as WasmBackend;
    const memory = backend.wasm?.asm?.memory;
    if (!(memory instanceof WebAssemblyApi.Memory)) throw new Error('the wasm backend does not expose its memory');
    const bytes = readFileSync(new URL('./hifi-kernels.wasm', import.meta.url));
    const instance = new WebAssemblyApi.Instance(new WebAssemblyApi.Module(bytes), { env: { memory } });
    const k = instance.exports as unknown as KernelExports;
    registerWasmKernels(k);
    registerGradients();
    kernels = k;
    return true;
  } catch (err) {
    loadFailure = err instanceof Error ? err.message : String(err);
    return false;
  }
}

/** Why the fast kernels are off, if they failed to load. */
export function fastKernelsLoadFailure(): string | undefined {
  return loadFailure;
}

// ---------------------------------------------------------------------------------------------------------------
// ops (call only when fastKernelsAvailable() is true)

/** x·W + b: x [N, K], W [K, M], b [M] → [N, M]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.engine().runKernel<tf.Tensor2D>(KERNEL_NAMES.linear, { x, w, b });
}

export interface AttentionShape {
  batchSize: number;
  seqLen: number;
  numHeads: number;
  headDim: number;
}

/**
 * Multi-head attention on a fused projection qkv [B·T, 3·H·d] (Q | K | V, head h at columns h·d … (h+1)·d of each):
 * softmax(QKᵀ/√d + mask) → dropout → × headMask[h] → ·V, returned as the merged context [B·T, H·d].
 * mask holds B·T additive values; headMask [H] (optional). Dropout is on when rate > 0.
 */
export function attention(qkv: tf.Tensor2D, mask: tf.Tensor, headMask: tf.Tensor | undefined, shape: AttentionShape,
  drop: { rate: number; seed: number } = { rate: 0, seed: 0 }): tf.Tensor2D {
  const { batchSize: B, seqLen: T, numHeads: H, headDim: d } = shape;
  if (qkv.shape[0] !== B * T || qkv.shape[1] !== 3 * H * d) throw new Error(`attention: qkv must be [${B * T}, ${3 * H * d}], got [${qkv.shape}]`);
  if (mask.size !== B * T || mask.dtype !== 'float32') throw new Error(`attention: mask must hold ${B}·${T} float32 values, got [${mask.shape}] ${mask.dtype}`);
  if (headMask && headMask.size !== H) throw new Error(`attention: headMask must have ${H} values, got [${headMask.shape}]`);
  if (d % 4 !== 0) throw new Error(`attention: the head size must be a multiple of 4, got ${d}`);
  const attrs = { B, T, H, d, scale: 1 / Math.sqrt(d), rate: drop.rate, seed: drop.seed, useHeadMask: headMask !== undefined };
  const hm = headMask ? (headMask.dtype === 'float32' ? headMask : tf.cast(headMask, 'float32')) : tf.ones([H]);
  const [context] = tf.engine().runKernel<tf.Tensor[]>(KERNEL_NAMES.attention, { qkv, mask, headMask: hm }, attrs);
  return context as tf.Tensor2D;
}

/**
 * Exact GELU. While a gradient tape records, the kernel also writes the derivative (one pass over x instead of a
 * second erf and exp in the backward pass, which becomes a multiplication).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (tf.engine().state.gradientDepth > 0) return tf.engine().runKernel<T[]>(KERNEL_NAMES.geluWithGrad, { x })[0];
  return tf.engine().runKernel<T>(KERNEL_NAMES.gelu, { x });
}

/** LayerNorm over the last axis: (x − mean)/√(var + eps) · gamma + beta. */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps: number): T {
  const [y] = tf.engine().runKernel<tf.Tensor[]>(KERNEL_NAMES.layerNorm, { x, gamma, beta }, { eps });
  return y as T;
}

/** Dropout with a counter-hash mask (see dropout-hash.ts): the same seed drops the same elements. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  return tf.engine().runKernel<T>(KERNEL_NAMES.dropout, { x }, { rate, seed });
}

/** Rows of table [V, C] at ids (int32, any shape) → [ids.size, C]. */
export function gatherRows(table: tf.Tensor, ids: tf.Tensor): tf.Tensor2D {
  return tf.engine().runKernel<tf.Tensor2D>(KERNEL_NAMES.gatherRows, { table, ids }, { numRows: table.shape[0] });
}

/** The merged context [B·T, H·d] as per-head outputs [B, H, T, d] (head size a multiple of 4). */
export function splitHeads(x: tf.Tensor2D, shape: AttentionShape): tf.Tensor4D {
  const { batchSize: B, seqLen: T, numHeads: H, headDim: d } = shape;
  return tf.engine().runKernel<tf.Tensor4D>(KERNEL_NAMES.permuteHeads, { x }, { B, T, H, d, toHeads: true });
}

/** Transpose of a 2-D tensor (the wasm backend's own Transpose is several times slower). */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel<tf.Tensor2D>(KERNEL_NAMES.transpose2d, { x });
}
