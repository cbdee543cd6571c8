// Reading a whole object into memory, for small files (configs, reports, manifests).
import type { ByteRange, ObjectStore } from './object-store.ts';

export async function readObject(store: ObjectStore, key: string, range?: ByteRange): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key, range)) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
