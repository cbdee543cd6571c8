// The trainer's CheckpointSink over object storage: each checkpoint (state.json + safetensors files) is one zip
// artifact of the job, `checkpoint-<name>.zip` (stored entries, no compression). One put per checkpoint makes a
// write atomic on both backends (a reader sees the old archive or the new one), and a checkpoint survives the
// worker: after a SIGKILL the next worker lists the job's artifacts and resumes from the newest step checkpoint.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createZip, extractZip } from '@hifi/data';
import { storageKeys } from '@hifi/jobs';
import { NotFoundError, readObject, type ObjectStore } from '@hifi/storage';
import type { CheckpointSink } from '@hifi/trainer/checkpoint-sink.ts';
import { publishArtifact, type ArtifactLedger } from './artifacts.ts';

const PREFIX = 'checkpoint-';
const SUFFIX = '.zip';

export function checkpointArtifactName(checkpoint: string): string {
  return `${PREFIX}${checkpoint}${SUFFIX}`;
}

export function checkpointOfArtifactName(name: string): string | null {
  return name.startsWith(PREFIX) && name.endsWith(SUFFIX) ? name.slice(PREFIX.length, -SUFFIX.length) : null;
}

function stepOf(checkpoint: string): number | undefined {
  const m = /^step-(\d+)$/.exec(checkpoint);
  return m ? Number(m[1]) : undefined;
}

export interface ObjectStoreCheckpointSinkOptions {
  store: ObjectStore;
  ledger: ArtifactLedger;
  /** Scratch folder for unpacking archives. */
  tmpDir: string;
}

export class ObjectStoreCheckpointSink implements CheckpointSink {
  private readonly store: ObjectStore;
  private readonly ledger: ArtifactLedger;
  private readonly tmpDir: string;

  constructor(opts: ObjectStoreCheckpointSinkOptions) {
    this.store = opts.store;
    this.ledger = opts.ledger;
    this.tmpDir = opts.tmpDir;
  }

  private key(name: string): string {
    return storageKeys.artifact(this.ledger.jobId, checkpointArtifactName(name));
  }

  async write(name: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
    const archive = createZip([...files].map(([file, data]) => ({ name: file, data })), { method: 'store' });
    const step = stepOf(name) ?? stepFromState(files);
    await publishArtifact(this.store, this.ledger, {
      name: checkpointArtifactName(name),
      source: { bytes: archive },
      kind: 'checkpoint',
      ...(step === undefined ? {} : { step }),
    });
  }

  async read(name: string): Promise<Map<string, Uint8Array> | null> {
    let archive: Buffer;
    try {
      archive = await readObject(this.store, this.key(name));
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
    const dir = await mkdtemp(join(this.tmpDir, 'checkpoint-'));
    try {
      const zipPath = join(dir, 'checkpoint.zip');
      await writeFile(zipPath, archive);
      const out = join(dir, 'files');
      const written = await extractZip(zipPath, out);
      const files = new Map<string, Uint8Array>();
      for (const rel of written.sort()) files.set(rel, new Uint8Array(await readFile(join(out, rel))));
      return files;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async list(): Promise<string[]> {
    const prefix = storageKeys.artifact(this.ledger.jobId, 'x').slice(0, -1);
    const names: string[] = [];
    for (const item of await this.store.list(prefix.slice(0, -1))) {
      const checkpoint = checkpointOfArtifactName(item.key.slice(prefix.length));
      if (checkpoint !== null) names.push(checkpoint);
    }
    return names.sort();
  }

  /** The record goes first, so a recorded checkpoint is always downloadable (an object left behind is harmless). */
  async delete(name: string): Promise<void> {
    await this.ledger.remove(checkpointArtifactName(name));
    await this.store.delete(this.key(name));
  }
}

function stepFromState(files: ReadonlyMap<string, Uint8Array>): number | undefined {
  const state = files.get('state.json');
  if (!state) return undefined;
  try {
    const step = (JSON.parse(new TextDecoder().decode(state)) as { step?: unknown }).step;
    return typeof step === 'number' && Number.isInteger(step) && step >= 0 ? step : undefined;
  } catch {
    return undefined;
  }
}
