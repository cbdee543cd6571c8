// The WebAssembly statistics kernel (head-stats.as → head-stats.wasm): one layer of one batch per call, from the
// float32 head outputs to each example's per-head nuclear norms and RV matrix, in float64. The module has its own
// memory (not the tfjs heap): each call copies the layer's head outputs and the attention mask in, and the results
// are read through views. The memory grows to fit the largest batch seen (batch size × padded length), never with the
// number of batches.
import { readFileSync } from 'node:fs';

/** The WebAssembly API (the project's TypeScript lib settings do not declare it). */
interface WebAssemblyMemory { buffer: ArrayBuffer; grow(pages: number): number }
interface WebAssemblyApi {
  Memory: new (desc: { initial: number }) => WebAssemblyMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;

interface HeadStatsExports {
  scratchBytes(T: number, H: number, d: number): number;
  layerStats(out: number, mask: number, B: number, T: number, H: number, d: number, scratch: number,
    rich: number, rv: number, status: number, tokens: number): void;
}

/** status[b] of a layerStats result. */
export const EXAMPLE_USED = 0;
export const EXAMPLE_SKIPPED = 1;
export const EXAMPLE_QL_FAILED = 2;

export interface LayerStatsResult {
  /** [B, H] nuclear norms (valid where status is EXAMPLE_USED). */
  richness: Float64Array;
  /** [B, H, H] RV coefficients (valid where status is EXAMPLE_USED). */
  rv: Float64Array;
  /** [B] EXAMPLE_USED, EXAMPLE_SKIPPED (fewer than 2 real tokens) or EXAMPLE_QL_FAILED (redo on the JS path). */
  status: Int32Array;
  /** [B] real tokens per example. */
  tokens: Int32Array;
}

const PAGE = 65536;
const align16 = (n: number) => (n + 15) & ~15;

let loaded: { module: object } | { error: string } | undefined;

function loadModule(): { module: object } | { error: string } {
  if (loaded) return loaded;
  try {
    if (!WebAssemblyApi) throw new Error('WebAssembly is not available');
    const bytes = readFileSync(new URL('./head-stats.wasm', import.meta.url));
    loaded = { module: new WebAssemblyApi.Module(bytes) };
  } catch (err) {
    loaded = { error: err instanceof Error ? err.message : String(err) };
  }
  return loaded;
}

/** Why the kernel cannot be used here (undefined when it can). */
export function headStatsWasmUnavailable(): string | undefined {
  const m = loadModule();
  return 'error' in m ? m.error : undefined;
}

export class HeadStatsWasm {
  private readonly memory: WebAssemblyMemory;
  private readonly fns: HeadStatsExports;

  private constructor(module: object) {
    this.memory = new WebAssemblyApi!.Memory({ initial: 1 });
    this.fns = new WebAssemblyApi!.Instance(module, { env: { memory: this.memory, abort: () => { throw new Error('head-stats.wasm aborted'); } } }).exports as HeadStatsExports;
  }

  /** A kernel instance, or undefined when WebAssembly (with SIMD) is not available (see headStatsWasmUnavailable). */
  static create(): HeadStatsWasm | undefined {
    const m = loadModule();
    if ('error' in m) return undefined;
    try {
      return new HeadStatsWasm(m.module);
    } catch (err) {
      loaded = { error: err instanceof Error ? err.message : String(err) };
      return undefined;
    }
  }

  /** Bytes of WebAssembly memory held. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Statistics of one layer of one batch: `out` is the layer's [B, H, T, d] head output (row-major), `mask` the
   * batch's [B, T] attention mask. The result's arrays are views on the module's memory, valid until the next call.
   */
  layerStats(out: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number, H: number, d: number): LayerStatsResult {
    const outAt = 0;
    const maskAt = align16(outAt + 4 * B * H * T * d);
    const richAt = align16(maskAt + 4 * B * T);
    const rvAt = align16(richAt + 8 * B * H);
    const statusAt = align16(rvAt + 8 * B * H * H);
    const tokensAt = align16(statusAt + 4 * B);
    const scratchAt = align16(tokensAt + 4 * B);
    const end = scratchAt + this.fns.scratchBytes(T, H, d);
    if (end > this.memory.buffer.byteLength) this.memory.grow(Math.ceil((end - this.memory.buffer.byteLength) / PAGE));
    const buf = this.memory.buffer;
    new Float32Array(buf, outAt, B * H * T * d).set(out);
    new Int32Array(buf, maskAt, B * T).set(mask);
    this.fns.layerStats(outAt, maskAt, B, T, H, d, scratchAt, richAt, rvAt, statusAt, tokensAt);
    return {
      richness: new Float64Array(buf, richAt, B * H),
      rv: new Float64Array(buf, rvAt, B * H * H),
      status: new Int32Array(buf, statusAt, B),
      tokens: new Int32Array(buf, tokensAt, B),
    };
  }
}
