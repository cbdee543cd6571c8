// Where training checkpoints go. A checkpoint is a named set of files (state.json, *.safetensors); a sink stores
// and returns them whole. `LocalCheckpointSink` keeps each checkpoint as a sub-directory; the worker can supply
// an object-storage sink with the same four methods.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';

export interface CheckpointSink {
  /**
   * Stores a checkpoint atomically: when the promise resolves, `name` holds exactly these files; if the process
   * dies before, a reader sees the previous content of `name` (or none), never a mix.
   */
  write(name: string, files: ReadonlyMap<string, Uint8Array>): Promise<void>;
  /** The files of a checkpoint, or null when there is none of that name. */
  read(name: string): Promise<Map<string, Uint8Array> | null>;
  /** Names of the stored checkpoints (any order). */
  list(): Promise<string[]>;
  /** Removes a checkpoint; no error when absent. */
  delete(name: string): Promise<void>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkCheckpointName(name: string): void {
  if (!NAME.test(name)) throw new RangeError(`invalid checkpoint name ${JSON.stringify(name)} (letters, digits, . _ -; no leading dot)`);
}

/**
 * Checkpoints as directories under `root`: root/<name>/<file>. A write fills root/.tmp-<uuid>/, flushes each
 * file, then renames the directory into place (an existing <name> is first renamed aside, then removed).
 */
export class LocalCheckpointSink implements CheckpointSink {
  constructor(readonly root: string) {}

  async write(name: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    checkCheckpointName(name);
    for (const f of files.keys()) if (!FILE.test(f)) throw new RangeError(`checkpoint ${name}: invalid file name ${JSON.stringify(f)}`);
    await mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${randomUUID()}`);
    await mkdir(tmp);
    try {
      for (const [f, bytes] of files) {
        const fh = await open(join(tmp, f), 'w');
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      const target = join(this.root, name);
      const old = join(this.root, `.old-${randomUUID()}`);
      const hadOld = await rename(target, old).then(() => true, (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      });
      await rename(tmp, target);
      if (hadOld) await rm(old, { recursive: true, force: true });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  async read(name: string): Promise<Map<string, Uint8Array> | null> {
    checkCheckpointName(name);
    const dir = join(this.root, name);
    const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (entries === null) return null;
    const out = new Map<string, Uint8Array>();
    for (const f of entries.sort()) {
      if (!(await stat(join(dir, f))).isFile()) continue;
      out.set(f, new Uint8Array(await readFile(join(dir, f))));
    }
    return out;
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    return entries.filter((e) => e.isDirectory() && NAME.test(e.name)).map((e) => e.name).sort();
  }

  async delete(name: string): Promise<void> {
    checkCheckpointName(name);
    await rm(join(this.root, name), { recursive: true, force: true });
  }
}

/** A sink in memory (tests, or a caller that ships checkpoints elsewhere itself). */
export class MemoryCheckpointSink implements CheckpointSink {
  private readonly store = new Map<string, Map<string, Uint8Array>>();

  async write(name: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    checkCheckpointName(name);
    this.store.set(name, new Map([...files].map(([f, b]) => [f, new Uint8Array(b)])));
  }

  async read(name: string): Promise<Map<string, Uint8Array> | null> {
    const files = this.store.get(name);
    return files ? new Map(files) : null;
  }

  async list(): Promise<string[]> {
    return [...this.store.keys()].sort();
  }

  async delete(name: string): Promise<void> {
    this.store.delete(name);
  }
}

/** Writes a file atomically (temp file in the same directory, flushed, then renamed). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${randomUUID()}`;
  try {
    await writeFile(tmp, data);
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
