// FsStore: objects as files under one data directory. Key `a/b/c.json` is the file `<root>/a/b/c.json`.
// Bookkeeping files sit beside the objects under names that start with '.hifi-' (keys cannot use such segments,
// list() skips them): `.hifi-tmp-<uuid>` while a file is being written, `.hifi-meta.<name>.json` for an object's
// content type, `.hifi-trash-<uuid>` for a folder being replaced by promotePrefix().
// Every write goes to a temp file in the target's folder, is fsynced, then renamed over the target (atomic on POSIX).
// Keys are checked lexically (object-key.ts), then the resolved path and the real path of its deepest existing
// ancestor (symlinks) must lie inside the real data directory.
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { NotFoundError, StorageConfigError, StorageKeyError, StorageUnavailableError } from './errors.ts';
import { compareKeys, isUnderPrefix, normalizePrefix, RESERVED_SEGMENT_PREFIX, validateKey } from './object-key.ts';
import { checkPresignExpiry, contentTypeOf, DEFAULT_CONTENT_TYPE, resolveRange } from './object-store.ts';
import type { ByteRange, ListedObject, ObjectBody, ObjectInfo, ObjectStore, PutOptions, PutResult } from './object-store.ts';

const TEMP_FILE = `${RESERVED_SEGMENT_PREFIX}tmp-`;
const TRASH_DIR = `${RESERVED_SEGMENT_PREFIX}trash-`;
const metaFileOf = (objectPath: string): string => join(dirname(objectPath), `${RESERVED_SEGMENT_PREFIX}meta.${objectPath.slice(dirname(objectPath).length + 1)}.json`);

function errno(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}
const isMissing = (error: unknown): boolean => errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR';
/** Whether `path` lies strictly inside the directory `root` (both absolute and resolved). */
const isInside = (root: string, path: string): boolean => path.startsWith(root.endsWith(sep) ? root : root + sep);

/** FsStore's ETag: changes whenever the file is replaced (new inode) or rewritten (size, mtime in ns). */
function etagOf(s: { ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `"${s.ino.toString(16)}-${s.size.toString(16)}-${s.mtimeNs.toString(16)}"`;
}

export class FsStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly root: string;
  readonly location: string;
  #realRoot: Promise<string> | undefined;

  constructor(rootDir: string) {
    if (typeof rootDir !== 'string' || rootDir.trim() === '') throw new StorageConfigError('rootDir', 'the data directory must be a non-empty path');
    this.root = resolve(rootDir);
    this.location = `fs:${this.root}`;
  }

  /** The real path of the data directory, created on first use. */
  private realRoot(): Promise<string> {
    this.#realRoot ??= (async () => {
      await mkdir(this.root, { recursive: true });
      return realpath(this.root);
    })();
    this.#realRoot.catch(() => { this.#realRoot = undefined; }); // let a later call retry (e.g. after the disk is mounted)
    return this.#realRoot;
  }

  /** The path of a validated key or normalised prefix ('' = the root), proven to stay inside the data directory. */
  private async pathOf(key: string): Promise<string> {
    const realRoot = await this.realRoot();
    if (key === '') return realRoot;
    const path = resolve(realRoot, ...key.split('/'));
    if (!isInside(realRoot, path)) throw new StorageKeyError(key, 'escapes the data directory');
    let probe = path;
    while (probe !== realRoot) {
      let real: string;
      try {
        real = await realpath(probe);
      } catch (error) {
        if (!isMissing(error)) throw error;
        probe = dirname(probe);
        continue;
      }
      if (real !== realRoot && !isInside(realRoot, real)) throw new StorageKeyError(key, 'resolves (through a symlink) outside the data directory');
      break;
    }
    return path;
  }

  /** Creates the folder of an object; a file in the way means the key's parent is itself an object. */
  private async makeParent(key: string, path: string): Promise<void> {
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      if (errno(error) === 'EEXIST' || errno(error) === 'ENOTDIR') {
        throw new StorageKeyError(key, 'a parent segment is already an object, and the filesystem store cannot hold an object and a folder of the same name');
      }
      throw error;
    }
  }

  /** Moves a finished temp file over `path`; a folder in the way means other objects live under this key. */
  private async replaceWith(key: string, tempPath: string, path: string): Promise<void> {
    try {
      await rename(tempPath, path);
    } catch (error) {
      await rm(tempPath, { force: true });
      if (errno(error) === 'EISDIR' || errno(error) === 'ENOTEMPTY' || errno(error) === 'EEXIST') {
        throw new StorageKeyError(key, 'is a folder of other objects, and the filesystem store cannot hold an object and a folder of the same name');
      }
      throw error;
    }
  }

  /** Opens a new temp file beside `path`, creating the folder; retries if a concurrent delete pruned the folder. */
  private async openTemp(key: string, path: string): Promise<{ tempPath: string; handle: FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      await this.makeParent(key, path);
      const tempPath = join(dirname(path), `${TEMP_FILE}${randomUUID()}`);
      try {
        return { tempPath, handle: await open(tempPath, 'wx') };
      } catch (error) {
        if (errno(error) !== 'ENOENT' || attempt >= 2) throw error;
      }
    }
  }

  /**
   * Prepares the content-type sidecar of the object at `path` (a temp file; nothing for the default type), to be
   * committed right after the object itself is renamed into place, or discarded if that fails.
   */
  private async stageMeta(path: string, contentType: string): Promise<{ commit(): Promise<void>; discard(): Promise<void> }> {
    const metaPath = metaFileOf(path);
    if (contentType === DEFAULT_CONTENT_TYPE) return { commit: () => rm(metaPath, { force: true }), discard: async () => {} };
    const tempPath = join(dirname(path), `${TEMP_FILE}${randomUUID()}`);
    await writeFile(tempPath, JSON.stringify({ contentType }), { flag: 'wx' });
    return { commit: () => rename(tempPath, metaPath), discard: () => rm(tempPath, { force: true }) };
  }

  /** Renames a finished temp file over the object at `path`, with its content type. */
  private async commitObject(key: string, tempPath: string, path: string, contentType: string): Promise<void> {
    let meta;
    try {
      meta = await this.stageMeta(path, contentType);
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
    try {
      await this.replaceWith(key, tempPath, path);
    } catch (error) {
      await meta.discard();
      throw error;
    }
    await meta.commit();
  }

  async put(key: string, body: ObjectBody, options?: PutOptions): Promise<PutResult> {
    validateKey(key);
    const contentType = contentTypeOf(options);
    const path = await this.pathOf(key);
    const { tempPath, handle } = await this.openTemp(key, path);
    try {
      if (body instanceof Readable) {
        for await (const chunk of body) {
          const bytes: Uint8Array = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
          for (let offset = 0; offset < bytes.length;) offset += (await handle.write(bytes, offset)).bytesWritten;
        }
      } else {
        await handle.writeFile(body);
      }
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(tempPath, { force: true });
      throw error;
    }
    await handle.close();
    await this.commitObject(key, tempPath, path, contentType);
    const written = await stat(path, { bigint: true });
    return { size: Number(written.size), etag: etagOf(written) };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    validateKey(key);
    const path = await this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isMissing(error) || errno(error) === 'EISDIR') throw new NotFoundError(key, { cause: error });
      throw error;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new NotFoundError(key);
      const served = range === undefined ? undefined : resolveRange(key, range, info.size);
      return handle.createReadStream(served === undefined ? {} : { start: served.start, end: served.end }); // closes the handle when done
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  private async readContentType(path: string): Promise<string> {
    try {
      const meta: unknown = JSON.parse(await readFile(metaFileOf(path), 'utf8'));
      if (typeof meta === 'object' && meta !== null && 'contentType' in meta && typeof meta.contentType === 'string') return meta.contentType;
    } catch (error) {
      if (!isMissing(error) && !(error instanceof SyntaxError)) throw error;
    }
    return DEFAULT_CONTENT_TYPE;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
    const path = await this.pathOf(key);
    let info;
    try {
      info = await stat(path, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    if (!info.isFile()) return null;
    return { size: Number(info.size), contentType: await this.readContentType(path), etag: etagOf(info), lastModified: info.mtime };
  }

  /** Removes now-empty folders from `path`'s parent up to (not including) the root, so keys can be reused as objects. */
  private async pruneEmptyParents(path: string): Promise<void> {
    const realRoot = await this.realRoot();
    for (let dir = dirname(path); isInside(realRoot, dir); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch (error) {
        if (errno(error) === 'ENOENT') continue;
        return; // ENOTEMPTY (still used) or anything else: stop quietly, empty folders are harmless
      }
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const path = await this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      if (isMissing(error) || errno(error) === 'EISDIR' || errno(error) === 'EPERM') return; // nothing (or a folder) at this key
      throw error;
    }
    await rm(metaFileOf(path), { force: true });
    await this.pruneEmptyParents(path);
  }

  async list(prefix: string): Promise<ListedObject[]> {
    const folder = normalizePrefix(prefix, { allowEmpty: true });
    const path = await this.pathOf(folder);
    const found: ListedObject[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return; // no such folder, or it is an object: nothing under it
        throw error;
      }
      for (const entry of entries) {
        if (entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
        const key = keyPrefix === '' ? entry.name : `${keyPrefix}/${entry.name}`;
        try {
          validateKey(key);
        } catch {
          continue; // a file some other program put here under a name that is not a valid key
        }
        const entryPath = join(dir, entry.name);
        if (entry.isDirectory()) {
          await walk(entryPath, key);
        } else if (entry.isFile()) {
          try {
            const info = await stat(entryPath, { bigint: true });
            found.push({ key, size: Number(info.size), etag: etagOf(info), lastModified: info.mtime });
          } catch (error) {
            if (!isMissing(error)) throw error; // deleted while we listed
          }
        } // symlinks and special files are not objects
      }
    };
    await walk(path, folder);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const folder = normalizePrefix(prefix, { allowEmpty: false });
    const path = await this.pathOf(folder);
    const count = (await this.list(folder)).length;
    const info = await lstat(path).catch((error: unknown) => { if (isMissing(error)) return null; throw error; });
    if (info === null || !info.isDirectory()) return 0;
    await rm(path, { recursive: true, force: true });
    await this.pruneEmptyParents(path);
    return count;
  }

  private async requireFile(key: string, path: string): Promise<void> {
    const info = await stat(path).catch((error: unknown) => { if (isMissing(error)) return null; throw error; });
    if (info === null || !info.isFile()) throw new NotFoundError(key);
  }

  async copy(from: string, to: string): Promise<void> {
    validateKey(from);
    validateKey(to);
    const source = await this.pathOf(from);
    const target = await this.pathOf(to);
    await this.requireFile(from, source);
    if (source === target) return;
    const { tempPath, handle } = await this.openTemp(to, target);
    await handle.close();
    try {
      await copyFile(source, tempPath);
      const fileHandle = await open(tempPath, 'r+');
      await fileHandle.sync().finally(() => fileHandle.close());
    } catch (error) {
      await rm(tempPath, { force: true });
      if (isMissing(error)) throw new NotFoundError(from, { cause: error });
      throw error;
    }
    await this.commitObject(to, tempPath, target, await this.readContentType(source));
  }

  async rename(from: string, to: string): Promise<void> {
    validateKey(from);
    validateKey(to);
    const source = await this.pathOf(from);
    const target = await this.pathOf(to);
    await this.requireFile(from, source);
    if (source === target) return;
    await this.makeParent(to, target);
    const meta = await this.stageMeta(target, await this.readContentType(source));
    try {
      await rename(source, target);
    } catch (error) {
      await meta.discard();
      if (isMissing(error)) throw new NotFoundError(from, { cause: error });
      if (errno(error) === 'EISDIR' || errno(error) === 'ENOTEMPTY') {
        throw new StorageKeyError(to, 'is a folder of other objects, and the filesystem store cannot hold an object and a folder of the same name');
      }
      throw error;
    }
    await meta.commit();
    await rm(metaFileOf(source), { force: true });
    await this.pruneEmptyParents(source);
  }

  async promotePrefix(from: string, to: string): Promise<number> {
    const sourceFolder = normalizePrefix(from, { allowEmpty: false });
    const targetFolder = normalizePrefix(to, { allowEmpty: false });
    if (isUnderPrefix(targetFolder, sourceFolder) || isUnderPrefix(sourceFolder, targetFolder) || sourceFolder === targetFolder) {
      throw new StorageKeyError(to, `must not overlap the folder it is promoted from (${JSON.stringify(from)})`);
    }
    const source = await this.pathOf(sourceFolder);
    const target = await this.pathOf(targetFolder);
    const count = (await this.list(sourceFolder)).length;
    const sourceInfo = await lstat(source).catch((error: unknown) => { if (isMissing(error)) return null; throw error; });
    if (sourceInfo === null || !sourceInfo.isDirectory() || count === 0) {
      await this.deletePrefix(targetFolder); // nothing to promote: the target ends up empty, as the source is
      if (sourceInfo?.isDirectory() === true) {
        await rm(source, { recursive: true, force: true }); // empty folders and bookkeeping files only
        await this.pruneEmptyParents(source);
      }
      return 0;
    }
    await this.makeParent(targetFolder, target);
    const trash = join(dirname(target), `${TRASH_DIR}${randomUUID()}`);
    let replaced = false;
    try {
      await rename(target, trash); // the old set moves aside in one step...
      replaced = true;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    try {
      await rename(source, target); // ...and the new one takes its place in one step
    } catch (error) {
      if (replaced) await rename(trash, target).catch(() => undefined);
      throw error;
    }
    if (replaced) await rm(trash, { recursive: true, force: true });
    await this.pruneEmptyParents(source);
    return count;
  }

  async presignGet(key: string, expiresSec: number): Promise<string | null> {
    validateKey(key);
    checkPresignExpiry(expiresSec);
    return null; // files are served by the API itself
  }

  async ping(): Promise<void> {
    try {
      const realRoot = await this.realRoot();
      await access(realRoot, fsConstants.R_OK | fsConstants.W_OK);
    } catch (error) {
      throw new StorageUnavailableError(this.location, `data directory is not usable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {}
}
