// Content hashes that tie a head report to the model and the data it was computed from.
import { createHash, type Hash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal configs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

export type WeightEntry = readonly [name: string, tensor: Float32Array | { shape?: readonly number[]; data: Float32Array }];

/**
 * sha256 (hex) over the canonical config JSON and every weight tensor, taken in name order (so the iteration order of
 * the state dict does not matter): for each tensor its name, shape (when given) and raw little-endian float32 bytes,
 * each length-prefixed so that no two different inputs share a byte stream.
 */
export function fingerprintWeights(configJson: unknown, weights: Iterable<WeightEntry>): string {
  const hash = createHash('sha256');
  update(hash, 'hifi-weights-v1');
  update(hash, canonicalJson(configJson));
  const entries = [...weights].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i][0] === entries[i - 1][0]) throw new Error(`fingerprintWeights: duplicate tensor name "${entries[i][0]}"`);
  }
  for (const [name, tensor] of entries) {
    const data = tensor instanceof Float32Array ? tensor : tensor.data;
    const shape = tensor instanceof Float32Array ? [data.length] : tensor.shape ?? [data.length];
    update(hash, name);
    update(hash, shape.join(','));
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    hash.update(lengthPrefix(bytes.byteLength));
    hash.update(bigEndianHost ? swapFloat32(bytes) : bytes);
  }
  return hash.digest('hex');
}

/**
 * sha256 (hex) of the sampled data: each item (an example id or text) length-prefixed, in the order given.
 * Order matters: the same examples in another order are another sample.
 */
export function hashSampledData(items: Iterable<string>): string {
  const hash = createHash('sha256');
  update(hash, 'hifi-data-v1');
  for (const item of items) update(hash, item);
  return hash.digest('hex');
}

/** A streaming version of hashSampledData over token ids, for when the texts are not at hand. */
export class TokenDataHasher {
  private readonly hash = createHash('sha256');
  private count = 0;
  constructor() { update(this.hash, 'hifi-token-data-v1'); }
  /** Adds each example's real token ids (mask ≠ 0) of a padded batch. */
  addBatch(batch: { batchSize: number; seqLen: number; inputIds: ArrayLike<number>; attentionMask: ArrayLike<number> }): void {
    for (let b = 0; b < batch.batchSize; b++) {
      const ids: number[] = [];
      for (let t = 0; t < batch.seqLen; t++) if (batch.attentionMask[b * batch.seqLen + t] !== 0) ids.push(batch.inputIds[b * batch.seqLen + t]);
      update(this.hash, ids.join(' '));
      this.count++;
    }
  }
  get examples(): number { return this.count; }
  digest(): string { return this.hash.copy().digest('hex'); }
}

const bigEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

function swapFloat32(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4) { out[i] = bytes[i + 3]; out[i + 1] = bytes[i + 2]; out[i + 2] = bytes[i + 1]; out[i + 3] = bytes[i]; }
  return out;
}

function lengthPrefix(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function update(hash: Hash, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  hash.update(lengthPrefix(bytes.byteLength));
  hash.update(bytes);
}
