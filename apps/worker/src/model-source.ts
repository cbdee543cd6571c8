// Where a job's base model comes from, as a local checkpoint directory:
//   hf:org/name[@rev]   the engine's hub download (cached in HIFI_CACHE_DIR)
//   /abs/path           only inside one of HIFI_MODEL_DIRS (symlinks resolved; the engine checks)
//   <id>                a registered model: the folder <id> in the first of HIFI_MODEL_DIRS that has it
//   s3://bucket/key     every object under the folder `key`, downloaded into the job's work dir
// Failures that retrying cannot fix become UnrecoverableJobErrors naming `model`.
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { resolveModelSource } from '@hifi/engine';
import { parseModelSource, UnrecoverableJobError } from '@hifi/jobs';
import { createStore, storageConfigFromEnv, type StorageConfig } from '@hifi/storage';

export interface ModelSourceSettings {
  modelDirs: readonly string[];
  cacheDir: string;
  /** The worker's storage settings: an s3:// model reuses its endpoint, region and credentials. */
  storage: StorageConfig;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function s3ConfigFor(bucket: string, storage: StorageConfig): StorageConfig {
  if (storage.kind === 's3') return { ...storage, bucket, prefix: '' };
  const base = storageConfigFromEnv({ ...process.env, HIFI_STORAGE: `s3://${bucket}` });
  return base;
}

async function downloadS3Folder(bucket: string, key: string, storage: StorageConfig, dest: string): Promise<string> {
  const store = createStore(s3ConfigFor(bucket, storage));
  try {
    const folder = key.replace(/\/+$/, '');
    const objects = await store.list(folder);
    if (objects.length === 0) throw new UnrecoverableJobError('UNKNOWN_MODEL', `s3://${bucket}/${folder}/ holds no files`, 'model');
    for (const o of objects) {
      const rel = o.key.slice(folder.length + 1);
      const out = join(dest, ...rel.split('/'));
      await mkdir(dirname(out), { recursive: true });
      await pipeline(await store.get(o.key), createWriteStream(out));
    }
    return dest;
  } finally {
    await store.close();
  }
}

/** A local directory holding the job's base model. `workDir` receives s3:// downloads. */
export async function resolveJobModel(model: string, settings: ModelSourceSettings, workDir: string): Promise<string> {
  const parsed = parseModelSource(model);
  if (!parsed.ok) throw new UnrecoverableJobError('INVALID_JOB_SPEC', `model ${JSON.stringify(model)}: ${parsed.reason}`, 'model');
  const source = parsed.source;
  switch (source.kind) {
    case 'hf':
      return resolveModelSource(`hf:${source.repo}${source.revision === null ? '' : `@${source.revision}`}`, { cacheDir: settings.cacheDir });
    case 'local':
      if (settings.modelDirs.length === 0) throw new UnrecoverableJobError('MODEL_NOT_ALLOWED', 'local model paths are not allowed on this worker (HIFI_MODEL_DIRS is not set)', 'model');
      return resolveModelSource(source.path, { allowDirs: [...settings.modelDirs] });
    case 'registered': {
      for (const dir of settings.modelDirs) {
        const candidate = join(dir, source.id);
        if (await isDirectory(candidate)) return resolveModelSource(candidate, { allowDirs: [...settings.modelDirs] });
      }
      throw new UnrecoverableJobError('UNKNOWN_MODEL', `no registered model ${JSON.stringify(source.id)} in HIFI_MODEL_DIRS`, 'model');
    }
    case 's3':
      return downloadS3Folder(source.bucket, source.key, settings.storage, join(workDir, 'model'));
  }
}
