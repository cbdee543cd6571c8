// Atomic artifact sets: a job writes all its files under a temp folder next to the final one
// (`jobs/42/artifacts.tmp-<uuid>/…`), and only when every file is complete is the folder promoted to the final
// prefix (`jobs/42/artifacts/…`). A crash or an error midway leaves nothing under the final prefix (and a retry
// replaces an earlier set whole); the abandoned temp folder is removed on error, or later by removeAbandonedTemps().
import { randomUUID } from 'node:crypto';
import { joinKey, normalizePrefix, validateKey } from './object-key.ts';
import type { ObjectBody, ObjectStore, PutOptions, PutResult } from './object-store.ts';

const TEMP_MARKER = '.tmp-';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Writes files of one artifact set; keys are relative to the set (`model.safetensors`, `report/heads.json`). */
export interface ArtifactWriter {
  readonly finalPrefix: string;
  readonly tempPrefix: string;
  /** The temp key a relative key is written to (for writing through the store directly, e.g. store.copy()). */
  keyOf(relativeKey: string): string;
  put(relativeKey: string, body: ObjectBody, options?: PutOptions): Promise<PutResult>;
}

/** A fresh temp folder beside `finalPrefix`: `<finalPrefix>.tmp-<uuid>`. */
export function tempPrefixFor(finalPrefix: string): string {
  const folder = normalizePrefix(finalPrefix, { allowEmpty: false });
  return validateKey(`${folder}${TEMP_MARKER}${randomUUID()}`);
}

/**
 * Runs `fn` with a writer into a temp folder, then promotes the folder to `finalPrefix` (replacing what was there)
 * and returns `fn`'s result. If `fn` throws, the temp folder is deleted, `finalPrefix` is left as it was, and the
 * error is rethrown.
 */
export async function writeArtifactsAtomically<T>(store: ObjectStore, finalPrefix: string, fn: (writer: ArtifactWriter) => Promise<T>): Promise<T> {
  const folder = normalizePrefix(finalPrefix, { allowEmpty: false });
  const tempPrefix = tempPrefixFor(folder);
  const writer: ArtifactWriter = {
    finalPrefix: folder,
    tempPrefix,
    keyOf: (relativeKey) => joinKey(tempPrefix, relativeKey),
    put: (relativeKey, body, options) => store.put(joinKey(tempPrefix, relativeKey), body, options),
  };
  let result: T;
  try {
    result = await fn(writer);
  } catch (error) {
    await store.deletePrefix(tempPrefix).catch(() => undefined); // best effort: removeAbandonedTemps() catches the rest
    throw error;
  }
  try {
    await store.promotePrefix(tempPrefix, folder);
  } catch (error) {
    await store.deletePrefix(tempPrefix).catch(() => undefined);
    throw error;
  }
  return result;
}

/**
 * Deletes the temp folders that writes to `finalPrefix` left behind (a crash, a lost connection) and whose newest
 * object is older than `olderThanMs` (default 0: all of them — only safe when no write to this prefix is running).
 * Lists the parent folder of `finalPrefix`. Returns how many temp folders were removed.
 */
export async function removeAbandonedTemps(store: ObjectStore, finalPrefix: string, options: { olderThanMs?: number; now?: Date } = {}): Promise<number> {
  const folder = normalizePrefix(finalPrefix, { allowEmpty: false });
  const slash = folder.lastIndexOf('/');
  const parent = slash < 0 ? '' : folder.slice(0, slash);
  const name = folder.slice(slash + 1);
  const tempName = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${TEMP_MARKER.replace('.', '\\.')}${UUID}$`);
  const cutoff = (options.now ?? new Date()).getTime() - (options.olderThanMs ?? 0);
  const newestByTemp = new Map<string, number>();
  for (const item of await store.list(parent)) {
    const rest = parent === '' ? item.key : item.key.slice(parent.length + 1);
    const segment = rest.split('/', 1)[0] ?? '';
    if (!tempName.test(segment) || rest === segment) continue;
    const tempPrefix = parent === '' ? segment : `${parent}/${segment}`;
    newestByTemp.set(tempPrefix, Math.max(newestByTemp.get(tempPrefix) ?? 0, item.lastModified.getTime()));
  }
  let removed = 0;
  for (const [tempPrefix, newest] of newestByTemp) {
    if (newest > cutoff) continue;
    await store.deletePrefix(tempPrefix);
    removed++;
  }
  return removed;
}
