// A job's artifacts: files in object storage under `jobs/<id>/artifacts/<name>` (storageKeys.artifact) plus one
// record per file on the job (JobStore.addArtifact, which also appends an `artifact` event). Single files written
// while the job runs (the head report, checkpoints) are one put each, which is atomic on both backends; the final
// set is written under a temp folder and promoted only when every file is complete (writeArtifactsAtomically).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isArtifactName, storageKeys, type Artifact, type JobStore } from '@hifi/jobs';
import { writeArtifactsAtomically, type ObjectStore } from '@hifi/storage';

export type ArtifactKind = Artifact['kind'];

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.gexf': 'application/gexf+xml',
  '.safetensors': 'application/octet-stream',
  '.zip': 'application/zip',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
};

export function contentTypeForArtifact(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && CONTENT_TYPES[name.slice(dot).toLowerCase()]) || 'application/octet-stream';
}

/** What an artifact is, from its name (the names the worker writes are listed in apps/worker/README.md). */
export function artifactKindOf(name: string): ArtifactKind {
  if (name.startsWith('checkpoint-')) return 'checkpoint';
  if (name.startsWith('merged-')) return 'model';
  if (name === 'heads.safetensors' || name === 'adapter_config.json' || name.startsWith('adapter')) return 'adapter';
  if (name === 'metrics.json') return 'metrics';
  if (name.endsWith('.svg') || name.endsWith('.gexf')) return 'figure';
  if (name.endsWith('.log')) return 'log';
  if (name === 'heads.json' || name === 'head_mask.json' || name.endsWith('.json') || name.endsWith('.md')) return 'report';
  return 'other';
}

export interface ArtifactFile {
  name: string;
  /** A local file (streamed) or bytes in memory. */
  source: { path: string } | { bytes: Uint8Array };
  kind?: ArtifactKind;
  step?: number;
}

async function sha256AndSize(source: ArtifactFile['source']): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  if ('bytes' in source) return { sha256: hash.update(source.bytes).digest('hex'), size: source.bytes.byteLength };
  for await (const chunk of createReadStream(source.path)) hash.update(chunk as Buffer);
  return { sha256: hash.digest('hex'), size: (await stat(source.path)).size };
}

function bodyOf(source: ArtifactFile['source']) {
  return 'bytes' in source ? source.bytes : createReadStream(source.path);
}

function checkName(name: string): void {
  if (!isArtifactName(name)) throw new TypeError(`artifact name ${JSON.stringify(name)} is not a flat name (letters, digits, _ . -)`);
}

/**
 * The artifact records of one job, through JobStore: each add and remove is atomic with its `artifact` /
 * `artifact_removed` event.
 */
export class ArtifactLedger {
  constructor(
    private readonly jobs: JobStore,
    readonly jobId: string,
  ) {}

  add(artifact: Artifact): Promise<number> {
    return this.jobs.addArtifact(this.jobId, artifact);
  }

  /** Removes the record (no-op when there is none). */
  async remove(name: string): Promise<void> {
    await this.jobs.removeArtifact(this.jobId, name);
  }

  names(): Promise<string[]> {
    return this.jobs.artifactNames(this.jobId);
  }
}

async function describe(file: ArtifactFile, now: Date): Promise<Artifact> {
  const { sha256, size } = await sha256AndSize(file.source);
  return {
    name: file.name,
    kind: file.kind ?? artifactKindOf(file.name),
    size,
    contentType: contentTypeForArtifact(file.name),
    sha256,
    ...(file.step === undefined ? {} : { step: file.step }),
    createdAt: now.toISOString(),
  };
}

/** Stores one file at its final key (a single atomic put) and records it. */
export async function publishArtifact(store: ObjectStore, ledger: ArtifactLedger, file: ArtifactFile): Promise<Artifact> {
  checkName(file.name);
  const artifact = await describe(file, new Date());
  await store.put(storageKeys.artifact(ledger.jobId, file.name), bodyOf(file.source), { contentType: artifact.contentType });
  await ledger.add(artifact);
  return artifact;
}

/**
 * Writes the job's final artifact set: every file of `files`, plus the already-stored artifacts named in `keep`
 * (copied), under a temp folder that is promoted to `jobs/<id>/artifacts/` only when all are written. Objects of
 * the previous set that are not in the new one disappear with the promote; their records are removed too.
 * Records are written after the promote, so a recorded artifact is always downloadable.
 */
export async function publishArtifactSet(store: ObjectStore, ledger: ArtifactLedger, files: readonly ArtifactFile[], keep: readonly string[] = []): Promise<Artifact[]> {
  const names = new Set<string>();
  for (const f of files) {
    checkName(f.name);
    if (names.has(f.name)) throw new TypeError(`artifact ${f.name} is listed twice`);
    names.add(f.name);
  }
  const kept = keep.filter((n) => !names.has(n));
  const finalPrefix = storageKeys.artifact(ledger.jobId, 'x').slice(0, -2);
  const now = new Date();
  const described = await writeArtifactsAtomically(store, finalPrefix, async (writer) => {
    const out: Artifact[] = [];
    for (const f of files) {
      const artifact = await describe(f, now);
      await writer.put(f.name, bodyOf(f.source), { contentType: artifact.contentType });
      out.push(artifact);
    }
    for (const name of kept) await store.copy(storageKeys.artifact(ledger.jobId, name), writer.keyOf(name));
    return out;
  });
  for (const a of described) await ledger.add(a);
  const present = new Set([...names, ...kept]);
  for (const name of await ledger.names()) if (!present.has(name)) await ledger.remove(name);
  return described;
}
