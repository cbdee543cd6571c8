// Object keys: '/'-separated relative paths, checked in one place so that every backend accepts exactly the same
// keys. A key that passes here cannot name anything outside the store's root on the filesystem (FsStore checks the
// resolved and the real path again, in case of symlinks).
import { StorageKeyError } from './errors.ts';

/** Segments starting with this are kept for the stores' own bookkeeping (temp files, metadata sidecars). */
export const RESERVED_SEGMENT_PREFIX = '.hifi-';
/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

// NUL, the other C0 controls and DEL: never useful in a key, and dangerous in file names and HTTP headers.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function checkSegments(original: string, path: string): void {
  for (const segment of path.split('/')) {
    if (segment === '') throw new StorageKeyError(original, "must not contain empty segments ('//', a leading or a trailing '/')");
    if (segment === '.' || segment === '..') throw new StorageKeyError(original, "must not contain '.' or '..' segments");
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) throw new StorageKeyError(original, `segments starting with '${RESERVED_SEGMENT_PREFIX}' are reserved`);
  }
}

function checkCharacters(original: string): void {
  if (original.startsWith('/')) throw new StorageKeyError(original, "must be relative (no leading '/')");
  if (original.includes('\\')) throw new StorageKeyError(original, 'must not contain backslashes');
  if (CONTROL_CHARS.test(original)) throw new StorageKeyError(original, 'must not contain NUL or other control characters');
  if (Buffer.byteLength(original, 'utf8') > MAX_KEY_BYTES) throw new StorageKeyError(original, `must be at most ${MAX_KEY_BYTES} bytes of UTF-8`);
}

/** Returns `key` if it is a valid object key, else throws StorageKeyError (code INVALID_KEY). */
export function validateKey(key: unknown): string {
  if (typeof key !== 'string') throw new StorageKeyError(String(key), 'must be a string');
  if (key === '') throw new StorageKeyError(key, 'must not be empty');
  checkCharacters(key);
  checkSegments(key, key);
  return key;
}

/**
 * Validates a prefix and returns it without its trailing '/'. A prefix names a folder: `a/b` and `a/b/` both select
 * `a/b` itself and every key under `a/b/`, never `a/bc`. The empty prefix (the whole store) is allowed only when
 * `allowEmpty` is set.
 */
export function normalizePrefix(prefix: unknown, options: { allowEmpty: boolean }): string {
  if (typeof prefix !== 'string') throw new StorageKeyError(String(prefix), 'prefix must be a string');
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed === '') {
    if (options.allowEmpty && prefix === '') return '';
    throw new StorageKeyError(prefix, 'prefix must not be empty here');
  }
  checkCharacters(prefix);
  checkSegments(prefix, trimmed);
  return trimmed;
}

/** `prefix/relative`, both validated; an empty prefix gives `relative`. */
export function joinKey(prefix: string, relative: string): string {
  validateKey(relative);
  return prefix === '' ? relative : validateKey(`${prefix}/${relative}`);
}

/** Whether `key` lies in the folder `prefix` (normalised, '' = everything): equal to it or below `prefix/`. */
export function isUnderPrefix(key: string, prefix: string): boolean {
  return prefix === '' || key === prefix || key.startsWith(`${prefix}/`);
}

/** Byte-wise (UTF-8) order, the order S3 lists keys in, so both backends list alike. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
