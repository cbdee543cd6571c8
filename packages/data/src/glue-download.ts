// Downloading GLUE into the standard layout, as the well-known download_glue_data.py does:
// one zip per task from dl.fbaipublicfiles.com (extracted into <dataDir>/<Task>/), and MRPC rebuilt from
// the SentEval copies of msr_paraphrase_{train,test}.txt plus GLUE's mrpc_dev_ids.tsv.
// Everything is written into a temporary folder inside dataDir and renamed into place at the end, so
// an interrupted download never leaves a half-written task folder behind.
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DownloadError } from './errors.ts';
import { glueDataDir } from './glue.ts';
import { getTask, type GlueTaskName, type TaskSpec } from './tasks.ts';
import { extractZip } from './zip.ts';

/** Base URL of the GLUE archives used by download_glue_data.py. */
export const GLUE_BASE_URL = 'https://dl.fbaipublicfiles.com/glue/data';
/** Where download_glue_data.py gets the MRPC source files (the SentEval copy). */
export const MRPC_SOURCE_BASE_URL = 'https://dl.fbaipublicfiles.com/senteval/senteval_data';

/** Archive file name per task under GLUE_BASE_URL (MRPC is not an archive: see MRPC_FILES). */
export const GLUE_ARCHIVES: Readonly<Record<Exclude<GlueTaskName, 'mrpc'>, string>> = {
  cola: 'CoLA.zip',
  sst2: 'SST-2.zip',
  qqp: 'QQP-clean.zip',
  stsb: 'STS-B.zip',
  mnli: 'MNLI.zip',
  qnli: 'QNLIv2.zip',
  rte: 'RTE.zip',
  wnli: 'WNLI.zip',
};

/** MRPC inputs: the two SentEval files (under mrpcBaseUrl) and the dev ids (under baseUrl). */
export const MRPC_FILES = {
  train: 'msr_paraphrase_train.txt',
  test: 'msr_paraphrase_test.txt',
  devIds: 'mrpc_dev_ids.tsv',
} as const;

export interface DownloadGlueOptions {
  /** Replaces GLUE_BASE_URL (e.g. a mirror, or a local server in tests). */
  baseUrl?: string;
  /** Replaces MRPC_SOURCE_BASE_URL; defaults to baseUrl when that is given. */
  mrpcBaseUrl?: string;
  /** Replace an existing task folder (default false: an existing folder is kept and reported). */
  force?: boolean;
  /** Abort one HTTP request after this long (default 30 minutes). */
  timeoutMs?: number;
}

export interface DownloadGlueResult {
  task: TaskSpec;
  /** The task folder, e.g. <dataDir>/SST-2. */
  dir: string;
  /** Files in the task folder (relative), sorted. */
  files: string[];
  /** True when the folder existed and nothing was downloaded. */
  alreadyPresent: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listFiles(join(dir, d.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

/** Streams a URL to a file; throws DownloadError on a network error or a non-2xx status. */
export async function downloadToFile(url: string, dest: string, timeoutMs = 30 * 60_000): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    throw new DownloadError(url, (err as Error).message);
  }
  if (!res.ok || !res.body) throw new DownloadError(url, `HTTP ${res.status} ${res.statusText}`);
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(dest));
  } catch (err) {
    throw new DownloadError(url, `transfer interrupted: ${(err as Error).message}`);
  }
  return (await stat(dest)).size;
}

/** Finds the folder holding the task's files inside an extracted archive. */
async function findTaskFolder(extracted: string, spec: TaskSpec, url: string): Promise<string> {
  const expected = Object.values(spec.splits).map((s) => s.file);
  const hasTaskFiles = async (dir: string) => (await Promise.all(expected.map((f) => exists(join(dir, f))))).some(Boolean);
  const named = join(extracted, spec.dirName);
  if (await exists(named) && await hasTaskFiles(named)) return named;
  const top = (await readdir(extracted, { withFileTypes: true })).filter((d) => d.isDirectory() && d.name !== '__MACOSX');
  if (top.length === 1 && await hasTaskFiles(join(extracted, top[0].name))) return join(extracted, top[0].name);
  if (await hasTaskFiles(extracted)) return extracted;
  const found = await listFiles(extracted);
  throw new DownloadError(url, `archive has none of ${expected.join(', ')} (it contains: ${found.slice(0, 10).join(', ') || 'nothing'})`);
}

/**
 * Rebuilds MRPC train/dev/test.tsv from the original files exactly as download_glue_data.py's
 * format_mrpc does: the train header is copied to train.tsv and dev.tsv; a row goes to dev.tsv when its
 * (#1 ID, #2 ID) pair is listed in mrpc_dev_ids.tsv; test.tsv gets an "index" header and a 0-based index
 * instead of the quality column.
 */
export function formatMrpc(trainText: string, testText: string, devIdsText: string): { train: string; dev: string; test: string } {
  const lines = (t: string) => t.split('\n').map((l) => l.replace(/\r$/, ''));
  const devIds = new Set(lines(devIdsText).filter((l) => l.trim() !== '').map((l) => l.trim().split('\t').join('\t')));
  const [trainHeader, ...trainRows] = lines(trainText);
  let train = `${trainHeader}\n`;
  let dev = `${trainHeader}\n`;
  for (const row of trainRows) {
    if (row.trim() === '') continue;
    const f = row.trim().split('\t');
    if (f.length !== 5) throw new Error(`MRPC train source: expected 5 fields, found ${f.length} in "${row.slice(0, 80)}"`);
    const out = `${f.join('\t')}\n`;
    if (devIds.has(`${f[1]}\t${f[2]}`)) dev += out;
    else train += out;
  }
  let test = 'index\t#1 ID\t#2 ID\t#1 String\t#2 String\n';
  let idx = 0;
  for (const row of lines(testText).slice(1)) {
    if (row.trim() === '') continue;
    const f = row.trim().split('\t');
    if (f.length !== 5) throw new Error(`MRPC test source: expected 5 fields, found ${f.length} in "${row.slice(0, 80)}"`);
    test += `${idx++}\t${f[1]}\t${f[2]}\t${f[3]}\t${f[4]}\n`;
  }
  return { train, dev, test };
}

/**
 * Downloads one GLUE task into <dataDir>/<Task>/ (dataDir from the argument or GLUE_DIR).
 * Needs internet (or a mirror through baseUrl). Atomic: the folder appears complete or not at all.
 */
export async function downloadGlue(task: string | TaskSpec, dataDir?: string, opts: DownloadGlueOptions = {}): Promise<DownloadGlueResult> {
  const spec = getTask(task);
  const root = glueDataDir(dataDir);
  const finalDir = join(root, spec.dirName);
  if (!opts.force && await exists(finalDir)) {
    return { task: spec, dir: finalDir, files: await listFiles(finalDir), alreadyPresent: true };
  }
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(join(root, `.download-${spec.dirName}-`));
  try {
    const base = (opts.baseUrl ?? GLUE_BASE_URL).replace(/\/+$/, '');
    let ready: string;
    if (spec.name === 'mrpc') {
      const mrpcBase = (opts.mrpcBaseUrl ?? opts.baseUrl ?? MRPC_SOURCE_BASE_URL).replace(/\/+$/, '');
      const get = async (url: string, name: string) => {
        const p = join(work, name);
        await downloadToFile(url, p, opts.timeoutMs);
        return (await readFile(p)).toString('utf8');
      };
      const trainSrc = await get(`${mrpcBase}/${MRPC_FILES.train}`, MRPC_FILES.train);
      const testSrc = await get(`${mrpcBase}/${MRPC_FILES.test}`, MRPC_FILES.test);
      const devIds = await get(`${base}/${MRPC_FILES.devIds}`, 'dev_ids.tsv');
      const out = formatMrpc(trainSrc, testSrc, devIds);
      ready = join(work, spec.dirName);
      await mkdir(ready);
      await writeFile(join(ready, 'train.tsv'), out.train);
      await writeFile(join(ready, 'dev.tsv'), out.dev);
      await writeFile(join(ready, 'test.tsv'), out.test);
      await writeFile(join(ready, 'dev_ids.tsv'), devIds);
    } else {
      const url = `${base}/${GLUE_ARCHIVES[spec.name]}`;
      const archive = join(work, GLUE_ARCHIVES[spec.name]);
      await downloadToFile(url, archive, opts.timeoutMs);
      const extracted = join(work, 'extracted');
      try {
        await extractZip(archive, extracted);
      } catch (err) {
        throw new DownloadError(url, (err as Error).message);
      }
      ready = await findTaskFolder(extracted, spec, url);
    }
    if (await exists(finalDir)) {
      // force: move the old folder aside first, then swap (putting it back if the swap fails); the
      // old copy is deleted with the work folder.
      const old = join(work, 'previous');
      await rename(finalDir, old);
      try {
        await rename(ready, finalDir);
      } catch (err) {
        await rename(old, finalDir);
        throw err;
      }
    } else {
      await rename(ready, finalDir);
    }
    return { task: spec, dir: finalDir, files: await listFiles(finalDir), alreadyPresent: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
