// Reading dataset files as text: size limit first, strict UTF-8, BOM removed.
import { readFile, stat } from 'node:fs/promises';
import { DatasetNotFoundError, DatasetTooLargeError, InvalidDatasetError } from './errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly (invalid bytes are an error naming the file) and drops a leading BOM. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new InvalidDatasetError(file, 'not valid UTF-8 text');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reads a text file after checking its size against `maxBytes` (Infinity for no limit). */
export async function readTextFile(file: string, maxBytes = Infinity, notFoundHint = ''): Promise<string> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new InvalidDatasetError(file, 'not a regular file');
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DatasetNotFoundError(file, notFoundHint);
    throw err;
  }
  if (size > maxBytes) throw new DatasetTooLargeError(file, size, maxBytes);
  return decodeUtf8(await readFile(file), file);
}
