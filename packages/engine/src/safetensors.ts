// Reads and writes the safetensors format (https://github.com/huggingface/safetensors):
//   [8 bytes: header length N, u64 little-endian][N bytes: JSON header][data section]
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data
// section) plus an optional "__metadata__" string map. Every check of the header happens before any data is
// touched, and every failure is a SafetensorsError naming the file and the problem.
// Reading: one buffer per file; F32 tensors are views into it (no per-element copy) when aligned, the other
// dtypes are converted to float32 in one loop. Writing: F32 only, header padded with spaces to 8 bytes, written
// to a temporary file and renamed into place.
import { randomUUID } from 'node:crypto';
import { endianness } from 'node:os';
import { open, rename, unlink, readFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SafetensorsError } from './errors.ts';
import type { HostTensor, StateDict } from './types.ts';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each dtype we can read (all are converted to float32). */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** A header larger than this is refused (the safetensors reference implementation uses the same limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export const SHARDED_INDEX_FILE = 'model.safetensors.index.json';

if (endianness() !== 'LE') {
  // The format is little-endian and the typed-array views below assume a little-endian host.
  throw new Error('safetensors.ts supports little-endian hosts only');
}

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section, [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute byte offset of the data section (8 + header length). */
  dataStart: number;
  dataSize: number;
  /** Ranges of the data section no tensor covers (tolerated, reported). Offsets relative to the data section. */
  gaps: Array<[number, number]>;
}

export interface SafetensorsContents {
  tensors: StateDict;
  metadata: Record<string, string>;
  gaps: Array<[number, number]>;
}

const isDtype = (s: unknown): s is SafetensorsDtype => typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and validates the header of a safetensors file. `bytes` must hold at least the first 8 + N bytes;
 * `fileSize` is the size of the whole file. `file` names the file in error messages.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const fail = (problem: string): never => { throw new SafetensorsError(file, problem); };
  if (fileSize < 8) fail(`file is ${fileSize} bytes, too short to hold the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen64} exceeds the limit of ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`);
  const headerLen = Number(headerLen64);
  if (headerLen === 0) fail('header length is 0');
  if (8 + headerLen > fileSize) fail(`header length ${headerLen} runs past the end of the file (${fileSize} bytes): file truncated or not safetensors`);
  if (bytes.byteLength < 8 + headerLen) fail(`only ${bytes.byteLength} bytes were read, header needs ${8 + headerLen}`);

  let json: unknown;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(8, 8 + headerLen));
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header must be a JSON object');

  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('"__metadata__" must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__.${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`tensor "${name}": entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDtype(dtype)) fail(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) fail(`tensor "${name}": data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataSize) fail(`tensor "${name}": data_offsets [${begin}, ${end}] run past the data section (${dataSize} bytes): file truncated?`);
    const dims = shape as number[];
    const elements = dims.reduce((a, b) => a * b, 1);
    const expected = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${dims.join(', ')}] of ${dtype} needs ${expected}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: dims, begin, end });
  }

  // Overlaps and gaps: walk the ranges in order of their start.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  const gaps: Array<[number, number]> = [];
  let cursor = 0;
  let last: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.begin === e.end) continue; // empty tensors occupy no bytes
    if (last && e.begin < cursor) fail(`tensors "${last.name}" [${last.begin}, ${last.end}] and "${e.name}" [${e.begin}, ${e.end}] overlap`);
    if (e.begin > cursor) gaps.push([cursor, e.begin]);
    cursor = e.end;
    last = e;
  }
  if (cursor < dataSize) gaps.push([cursor, dataSize]);
  // Keep the file's order of tensors (JSON object order) for the caller.
  return { entries, metadata, dataStart, dataSize, gaps };
}

let halfTable: Float32Array | undefined;

/** float16 bits → float32, as a 65,536-entry table built once (256 KB). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  return halfTable;
}

/** IEEE 754 binary16 → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** An aligned view of `bytes` as T if possible, otherwise a copy of the bytes into a fresh, aligned buffer. */
function alignedBytes(bytes: Uint8Array, alignment: number): { buffer: ArrayBufferLike; byteOffset: number } {
  if (bytes.byteOffset % alignment === 0) return { buffer: bytes.buffer, byteOffset: bytes.byteOffset };
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { buffer: copy.buffer, byteOffset: 0 };
}

/** Converts the raw little-endian bytes of one tensor to float32. F32 data that is 4-byte aligned is not copied. */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'F32': {
      const { buffer, byteOffset } = alignedBytes(bytes, 4);
      return new Float32Array(buffer, byteOffset, n);
    }
    case 'F16': {
      const { buffer, byteOffset } = alignedBytes(bytes, 2);
      const src = new Uint16Array(buffer, byteOffset, n);
      const table = halfToFloatTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]];
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place.
      const { buffer, byteOffset } = alignedBytes(bytes, 2);
      const src = new Uint16Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'F64': {
      const { buffer, byteOffset } = alignedBytes(bytes, 8);
      return Float32Array.from(new Float64Array(buffer, byteOffset, n));
    }
    case 'I64': {
      const { buffer, byteOffset } = alignedBytes(bytes, 8);
      const src = new BigInt64Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'I32': {
      const { buffer, byteOffset } = alignedBytes(bytes, 4);
      return Float32Array.from(new Int32Array(buffer, byteOffset, n));
    }
    case 'I16': {
      const { buffer, byteOffset } = alignedBytes(bytes, 2);
      return Float32Array.from(new Int16Array(buffer, byteOffset, n));
    }
    case 'I8':
      return Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, n));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(bytes);
  }
}

/**
 * Decodes a whole safetensors file held in memory. The returned F32 tensors may be views into `bytes`
 * (keep that in mind before mutating them or the buffer).
 */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsContents {
  const header = parseSafetensorsHeader(bytes, bytes.byteLength, file);
  const tensors: StateDict = new Map();
  for (const e of header.entries) {
    const raw = bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end);
    tensors.set(e.name, { shape: e.shape, data: toFloat32(raw, e.dtype) });
  }
  return { tensors, metadata: header.metadata, gaps: header.gaps };
}

/** Reads a whole file into one buffer (works past readFile's 2 GB limit, up to the Buffer size limit). */
async function readWholeFile(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await fh.read(buf, offset, Math.min(size - offset, 1 << 30), offset);
      if (bytesRead === 0) throw new SafetensorsError(path, `file shrank while being read (${offset} of ${size} bytes)`);
      offset += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'file not found';
  if (e?.code === 'EISDIR') return 'is a directory, not a file';
  if (e?.code === 'EACCES') return 'permission denied';
  return e?.message ?? String(err);
}

/** Reads a .safetensors file into float32 host tensors. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await readWholeFile(path);
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(path, describeFsError(err));
  }
  return decodeSafetensors(bytes, path);
}

/** Reads and validates only the header of a .safetensors file (cheap: the data is not loaded). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new SafetensorsError(path, describeFsError(err));
  }
  try {
    const { size } = await fh.stat();
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, Math.min(8, size), 0);
    const headerLen = size >= 8 ? lenBuf.readBigUInt64LE(0) : 0n;
    // Let the parser produce the error for bad lengths; read only as much as is sane.
    const want = headerLen > 0n && headerLen <= BigInt(MAX_HEADER_BYTES) && 8n + headerLen <= BigInt(size) ? 8 + Number(headerLen) : 8;
    const buf = Buffer.alloc(Math.max(want, 8));
    await fh.read(buf, 0, Math.min(want, size), 0);
    return parseSafetensorsHeader(buf, size, path);
  } finally {
    await fh.close();
  }
}

export interface ShardedContents {
  tensors: StateDict;
  /** The index's "metadata" object (e.g. total_size). */
  metadata: Record<string, unknown>;
  /** Absolute paths of the shard files read, in order. */
  files: string[];
}

/** Checks that a shard name from an index is a plain file name in the index's directory. */
function shardFileName(name: unknown, indexPath: string, key: string): string {
  if (typeof name !== 'string' || name === '' || name !== basename(name) || name === '.' || name === '..' || name.includes('\\')) {
    throw new SafetensorsError(indexPath, `weight_map["${key}"] must be a file name in the same directory, got ${JSON.stringify(name)}`);
  }
  if (!name.endsWith('.safetensors')) throw new SafetensorsError(indexPath, `weight_map["${key}"] points to ${JSON.stringify(name)}, which is not a .safetensors file`);
  return name;
}

/** Reads a sharded checkpoint from its model.safetensors.index.json ({metadata, weight_map: {key: shard file}}). */
export async function readShardedSafetensors(indexPath: string): Promise<ShardedContents> {
  let text: string;
  try {
    text = await readFile(indexPath, 'utf8');
  } catch (err) {
    throw new SafetensorsError(indexPath, describeFsError(err));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(indexPath, `index is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsError(indexPath, 'index must be a JSON object');
  const { weight_map: weightMap, metadata } = json as Record<string, unknown>;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new SafetensorsError(indexPath, 'index has no "weight_map" object');
  }
  const byShard = new Map<string, string[]>();
  for (const [key, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    const name = shardFileName(shard, indexPath, key);
    const keys = byShard.get(name) ?? [];
    keys.push(key);
    byShard.set(name, keys);
  }
  if (byShard.size === 0) throw new SafetensorsError(indexPath, '"weight_map" is empty');

  const dir = dirname(indexPath);
  const tensors: StateDict = new Map();
  const files: string[] = [];
  for (const [name, keys] of byShard) {
    const path = join(dir, name);
    const shard = await readSafetensors(path);
    files.push(path);
    for (const key of keys) {
      if (!shard.tensors.has(key)) throw new SafetensorsError(indexPath, `weight_map says "${key}" is in ${name}, but that shard has no such tensor`);
    }
    for (const [key, t] of shard.tensors) {
      if (tensors.has(key)) throw new SafetensorsError(path, `tensor "${key}" appears in more than one shard`);
      tensors.set(key, t);
    }
  }
  return { tensors, metadata: typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {}, files };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

function checkTensor(name: string, t: HostTensor, file: string): number {
  if (name === '' || name === '__metadata__') throw new SafetensorsError(file, `invalid tensor name ${JSON.stringify(name)}`);
  if (!Array.isArray(t.shape) || !t.shape.every(isCount)) throw new SafetensorsError(file, `tensor "${name}": invalid shape ${JSON.stringify(t.shape)}`);
  if (!(t.data instanceof Float32Array)) throw new SafetensorsError(file, `tensor "${name}": data must be a Float32Array`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new SafetensorsError(file, `tensor "${name}": shape [${t.shape.join(', ')}] needs ${n} values, data has ${t.data.length}`);
  return n * 4;
}

/** The header bytes (JSON padded with spaces to a multiple of 8) and the names in data order. */
function buildHeader(tensors: StateDict, metadata: Record<string, string> | undefined, file: string): { header: Buffer; names: string[] } {
  const names = [...tensors.keys()].sort();
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(file, `metadata "${k}" must be a string, got ${JSON.stringify(v)}`);
    }
    obj.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = checkTensor(name, t, file);
    obj[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(obj), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, names };
}

/** Encodes tensors as an in-memory F32 safetensors file (handy for small dicts and tests). */
export function encodeSafetensors(tensors: StateDict, metadata?: Record<string, string>): Buffer {
  const { header, names } = buildHeader(tensors, metadata, '<memory>');
  const parts: Uint8Array[] = [header];
  for (const name of names) {
    const d = tensors.get(name)!.data;
    parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return Buffer.concat(parts);
}

/**
 * Writes tensors as an F32 safetensors file, atomically: the bytes go to a temporary file in the same directory,
 * which is flushed and then renamed over `path`. A crash leaves either the old file or the new one, never half.
 */
export async function writeSafetensors(path: string, tensors: StateDict, metadata?: Record<string, string>): Promise<void> {
  const { header, names } = buildHeader(tensors, metadata, path);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.write(header);
    for (const name of names) {
      const d = tensors.get(name)!.data;
      if (d.byteLength > 0) await fh.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Writes tensors as shards of at most `maxShardBytes` (a tensor larger than that gets a shard of its own) plus a
 * model.safetensors.index.json, the layout of large Hugging Face checkpoints. Returns the index path.
 */
export async function writeShardedSafetensors(dir: string, tensors: StateDict, maxShardBytes: number, metadata?: Record<string, string>): Promise<string> {
  const names = [...tensors.keys()].sort();
  const groups: string[][] = [];
  let current: string[] = [];
  let size = 0;
  let total = 0;
  for (const name of names) {
    const bytes = tensors.get(name)!.data.byteLength;
    if (current.length > 0 && size + bytes > maxShardBytes) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
    total += bytes;
  }
  if (current.length > 0) groups.push(current);
  const pad = (i: number) => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  for (const [i, group] of groups.entries()) {
    const file = `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`;
    const shard: StateDict = new Map(group.map((n) => [n, tensors.get(n)!]));
    await writeSafetensors(join(dir, file), shard, metadata);
    for (const n of group) weightMap[n] = file;
  }
  const indexPath = join(dir, SHARDED_INDEX_FILE);
  const tmp = `${indexPath}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, indexPath);
  return indexPath;
}
