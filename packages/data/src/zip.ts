// Zip archives: read the central directory, extract entries by streaming them through inflateRaw
// (checking size and CRC-32), and build small archives (used by tests and exports).
// Supports stored (0) and deflated (8) entries; not zip64, encryption or multi-disk archives.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, deflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.ts';
import { ZipFormatError } from './errors.ts';

const SIG_EOCD = 0x06054b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

export interface ZipEntry {
  /** Path inside the archive, "/"-separated; directories end with "/". */
  name: string;
  isDirectory: boolean;
  /** 0 = stored, 8 = deflated. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  localHeaderOffset: number;
}

/** Reads the central directory of a zip file. */
export async function readZipEntries(zipPath: string): Promise<ZipEntry[]> {
  const fh = await open(zipPath, 'r');
  try {
    const { size } = await fh.stat();
    if (size < EOCD_MIN) throw new ZipFormatError(zipPath, `too small to be a zip archive (${size} bytes)`);
    // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
    const tailLen = Math.min(size, EOCD_MIN + MAX_COMMENT);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    let eocd = -1;
    for (let i = tailLen - EOCD_MIN; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD) { eocd = i; break; }
    }
    if (eocd < 0) throw new ZipFormatError(zipPath, 'no end-of-central-directory record (not a zip, or truncated)');
    const disk = tail.readUInt16LE(eocd + 4);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (disk !== 0) throw new ZipFormatError(zipPath, 'multi-disk archives are not supported');
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw new ZipFormatError(zipPath, 'zip64 archives are not supported');
    if (cdOffset + cdSize > size) throw new ZipFormatError(zipPath, 'central directory lies outside the file (truncated?)');
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);

    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw new ZipFormatError(zipPath, `bad central directory entry ${i}`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      const compressedSize = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const localHeaderOffset = cd.readUInt32LE(p + 42);
      const rawName = cd.subarray(p + 46, p + 46 + nameLen);
      // Bit 11: UTF-8 name; otherwise CP437, which equals latin1 for the ASCII names GLUE uses.
      const name = rawName.toString(flags & 0x800 ? 'utf8' : 'latin1').replace(/\\/g, '/');
      if (flags & 0x1) throw new ZipFormatError(zipPath, `entry ${name} is encrypted`);
      if (compressedSize === 0xffffffff || uncompressed === 0xffffffff || localHeaderOffset === 0xffffffff) {
        throw new ZipFormatError(zipPath, `entry ${name} needs zip64, which is not supported`);
      }
      entries.push({ name, isDirectory: name.endsWith('/'), method, crc32: crc, compressedSize, size: uncompressed, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Rejects absolute paths and ".." segments (zip-slip) and returns the safe relative path. */
function safeRelativePath(zipPath: string, name: string): string {
  const parts = name.split('/').filter((s) => s !== '' && s !== '.');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || parts.includes('..') || parts.length === 0) {
    throw new ZipFormatError(zipPath, `unsafe entry path "${name}"`);
  }
  return parts.join(sep);
}

/** Counts bytes and CRC-32 of what passes through, and fails at the end if they differ from the directory. */
class CheckedOutput extends Transform {
  private crc = 0;
  private bytes = 0;
  constructor(private readonly zipPath: string, private readonly entry: ZipEntry) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.entry.size) {
      done(new ZipFormatError(this.zipPath, `entry ${this.entry.name} inflates past its declared ${this.entry.size} bytes`));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.bytes !== this.entry.size) done(new ZipFormatError(this.zipPath, `entry ${this.entry.name}: ${this.bytes} bytes, expected ${this.entry.size}`));
    else if (this.crc !== this.entry.crc32) done(new ZipFormatError(this.zipPath, `entry ${this.entry.name}: CRC-32 mismatch (corrupt archive)`));
    else done();
  }
}

export interface ExtractZipOptions {
  /** Refuse archives whose entries declare more than this many bytes in total (default 8 GiB). */
  maxTotalBytes?: number;
}

/**
 * Extracts every entry of `zipPath` under `destDir` (created if needed), streaming each one, and returns
 * the relative paths of the files written. Entries under __MACOSX/ are skipped.
 */
export async function extractZip(zipPath: string, destDir: string, opts: ExtractZipOptions = {}): Promise<string[]> {
  const entries = (await readZipEntries(zipPath)).filter((e) => !e.name.startsWith('__MACOSX/'));
  const total = entries.reduce((s, e) => s + e.size, 0);
  const maxTotal = opts.maxTotalBytes ?? 8 * 1024 ** 3;
  if (total > maxTotal) throw new ZipFormatError(zipPath, `entries total ${total} bytes, over the limit of ${maxTotal}`);
  const { size: fileSize } = await stat(zipPath);
  const root = resolve(destDir);
  await mkdir(root, { recursive: true });
  const written: string[] = [];
  const fh = await open(zipPath, 'r');
  try {
    for (const entry of entries) {
      const rel = safeRelativePath(zipPath, entry.name);
      const out = join(root, rel);
      if (entry.isDirectory) {
        await mkdir(out, { recursive: true });
        continue;
      }
      if (entry.method !== 0 && entry.method !== 8) throw new ZipFormatError(zipPath, `entry ${entry.name} uses unsupported compression method ${entry.method}`);
      const local = Buffer.alloc(30);
      await fh.read(local, 0, 30, entry.localHeaderOffset);
      if (local.readUInt32LE(0) !== SIG_LOCAL) throw new ZipFormatError(zipPath, `bad local header for ${entry.name}`);
      const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataStart + entry.compressedSize > fileSize) throw new ZipFormatError(zipPath, `entry ${entry.name} runs past the end of the file (truncated?)`);
      await mkdir(dirname(out), { recursive: true });
      // An empty stored entry has no data bytes; createReadStream cannot express an empty range.
      const source = entry.compressedSize === 0
        ? Readable.from([])
        : createReadStream(zipPath, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
      const check = new CheckedOutput(zipPath, entry);
      try {
        if (entry.method === 8) await pipeline(source, createInflateRaw(), check, createWriteStream(out));
        else await pipeline(source, check, createWriteStream(out));
      } catch (err) {
        if (err instanceof ZipFormatError) throw err;
        throw new ZipFormatError(zipPath, `cannot extract ${entry.name}: ${(err as Error).message}`);
      }
      written.push(rel);
    }
  } finally {
    await fh.close();
  }
  return written;
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

/**
 * Builds a zip archive in memory (deflated entries by default, "store" to keep bytes as they are).
 * Timestamps are fixed at 1980-01-01 so the same input gives the same bytes.
 */
export function createZip(files: ZipInput[], opts: { method?: 'deflate' | 'store' } = {}): Buffer {
  const method = opts.method === 'store' ? 0 : 8;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const data = method === 8 ? deflateRawSync(f.data) : Buffer.from(f.data);
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(SIG_CENTRAL, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6); // needed
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(f.name.endsWith('/') ? 0x10 : 0, 38); // MS-DOS directory attribute
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
