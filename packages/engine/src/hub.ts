// Model sources: "hf:org/name[@revision]" (downloaded from the Hugging Face hub or a mirror into a local cache)
// or a local checkpoint directory. Either way the caller gets a directory to load from.
// Downloads go to `<file>.part` and are renamed when complete, so the cache never holds half a file; an
// interrupted download resumes from the size of its .part with an HTTP Range request (206 appends; a server that
// answers 200 sends the whole file again, which then replaces the .part).
// URLs: ${HF_ENDPOINT ?? https://huggingface.co}/{repo}/resolve/{revision}/{file}, with `Authorization: Bearer
// ${HF_TOKEN}` when a token is set; redirects (the hub sends large files to a CDN) are followed.
import { homedir } from 'node:os';
import { mkdir, open, readFile, realpath, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { HubError, ModelSourceError } from './errors.ts';
import { SHARDED_INDEX_FILE } from './safetensors.ts';

export interface HubSource {
  repo: string;
  revision: string;
}

export interface DownloadEvent {
  file: string;
  /** Bytes in the final file. */
  bytes: number;
  /** True when the file was already in the cache (no request made). */
  cached: boolean;
  /** Size of the .part the download resumed from (0 for a fresh download). */
  resumedFrom: number;
}

export interface HubOptions {
  /** Defaults to $HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string;
  /** Defaults to $HF_TOKEN. */
  token?: string;
  /** Defaults to $HIFI_CACHE_DIR, then ~/.cache/hifi/hub. */
  cacheDir?: string;
  /** How many times a file download is resumed after a network failure or a 5xx before giving up (default 2). */
  retries?: number;
  /** Called once per file fetched or found in the cache. */
  onFile?: (event: DownloadEvent) => void;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

export const REQUIRED_FILES = ['config.json'] as const;
export const OPTIONAL_FILES = ['tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
const COMPLETE_MARKER = '.hifi-complete.json';

const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$/;
const REVISION = /^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,199}$/;

/** Parses "hf:org/name[@revision]"; returns undefined for any other string. Throws on a malformed hf: source. */
export function parseHubSource(source: string): HubSource | undefined {
  if (!source.startsWith('hf:')) return undefined;
  const body = source.slice(3);
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => REPO_PART.test(p) && !p.includes('..'))) {
    throw new ModelSourceError('INVALID_MODEL_SOURCE', source, 'expected hf:org/name or hf:org/name@revision (letters, digits, "-", "_", ".")');
  }
  if (!REVISION.test(revision) || revision.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new ModelSourceError('INVALID_MODEL_SOURCE', source, `invalid revision ${JSON.stringify(revision)}`);
  }
  return { repo, revision };
}

function defaults(opts: HubOptions): Required<Omit<HubOptions, 'onFile' | 'token'>> & Pick<HubOptions, 'onFile' | 'token'> {
  return {
    endpoint: (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    token: opts.token ?? (process.env.HF_TOKEN || undefined),
    cacheDir: opts.cacheDir ?? process.env.HIFI_CACHE_DIR ?? join(homedir(), '.cache', 'hifi', 'hub'),
    retries: opts.retries ?? 2,
    onFile: opts.onFile,
    fetch: opts.fetch ?? globalThis.fetch,
  };
}

/** The local directory a hub repo at a revision is cached in. */
export function hubCacheDir(src: HubSource, opts: HubOptions = {}): string {
  const { cacheDir } = defaults(opts);
  return join(cacheDir, src.repo.replace('/', '--'), encodeURIComponent(src.revision));
}

export function hubFileUrl(src: HubSource, file: string, opts: HubOptions = {}): string {
  const { endpoint } = defaults(opts);
  return `${endpoint}/${src.repo}/resolve/${encodeURIComponent(src.revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

const sizeOf = (path: string): Promise<number | undefined> => stat(path).then((s) => (s.isFile() ? s.size : undefined), () => undefined);

/** "bytes 100-199/1000" → { start: 100, total: 1000 } */
function parseContentRange(value: string | null): { start: number; total?: number } | undefined {
  const m = value ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

function describeNetworkError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e?.cause ? ` (${e.cause.code ?? ''}${e.cause.code && e.cause.message ? ': ' : ''}${e.cause.message ?? ''})` : '';
  return `${e?.message ?? String(err)}${cause}`;
}

class RetryableError extends Error {}

/**
 * Downloads one file of a repo to `dest`, resuming from `dest.part`. Returns undefined when the file does not exist
 * (404) and `optional` is set. Errors are HubErrors naming the repo and file.
 */
async function downloadFile(src: HubSource, file: string, dest: string, opts: HubOptions, optional: boolean): Promise<DownloadEvent | undefined> {
  const o = defaults(opts);
  const url = hubFileUrl(src, file, opts);
  const part = `${dest}.part`;
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'hifi-engine' };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let lastError: unknown;

  for (let attempt = 0; attempt <= o.retries; attempt++) {
    const have = (await sizeOf(part)) ?? 0;
    const reqHeaders = have > 0 ? { ...headers, range: `bytes=${have}-` } : headers;
    let res: Response;
    try {
      res = await o.fetch(url, { headers: reqHeaders, redirect: 'follow' });
    } catch (err) {
      lastError = new HubError('HUB_NETWORK_ERROR', src.repo, file, `request to ${url} failed: ${describeNetworkError(err)}`, { cause: err });
      continue;
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      if (optional) return undefined;
      throw new HubError('HUB_NOT_FOUND', src.repo, file, `not found (HTTP 404) at revision "${src.revision}": check the repo name, revision and file`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw new HubError('HUB_UNAUTHORIZED', src.repo, file, `access denied (HTTP ${res.status}): ` +
        (o.token ? 'the token in HF_TOKEN has no access to this repo (gated or private?)' : 'the repo is private or gated; set HF_TOKEN'));
    }
    if (res.status === 416 && have > 0) {
      // The .part already holds the whole file (or more): keep it if its size is the file's size.
      await res.body?.cancel().catch(() => {});
      const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (total !== undefined && Number(total) === have) {
        await rename(part, dest);
        return { file, bytes: have, cached: false, resumedFrom: have };
      }
      await unlink(part).catch(() => {});
      lastError = new HubError('HUB_INCOMPLETE_DOWNLOAD', src.repo, file, `server refused to resume from byte ${have}; restarting`);
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      const err = new HubError('HUB_HTTP_ERROR', src.repo, file, `HTTP ${res.status} ${res.statusText} from ${url}`);
      if (res.status >= 500 || res.status === 429) { lastError = err; continue; }
      throw err;
    }

    // 206: the server continues from `have`; 200: it sends everything, so the .part starts over.
    let append = false;
    let expectedTotal: number | undefined;
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== have) {
        await res.body?.cancel().catch(() => {});
        await unlink(part).catch(() => {});
        lastError = new HubError('HUB_INCOMPLETE_DOWNLOAD', src.repo, file, `server answered range ${res.headers.get('content-range')} to a request from byte ${have}`);
        continue;
      }
      append = true;
      expectedTotal = range.total;
    } else {
      const len = res.headers.get('content-length');
      expectedTotal = len !== null && /^\d+$/.test(len) ? Number(len) : undefined;
    }

    const fh = await open(part, append ? 'a' : 'w');
    let written = append ? have : 0;
    try {
      if (res.body) {
        for await (const chunk of res.body) {
          await fh.write(chunk);
          written += chunk.byteLength;
        }
      }
      await fh.sync();
    } catch (err) {
      lastError = new HubError('HUB_NETWORK_ERROR', src.repo, file,
        `connection lost after ${written} bytes (${describeNetworkError(err)}); the partial file is kept and the next attempt resumes from it`, { cause: err });
      continue;
    } finally {
      await fh.close();
    }
    written = (await sizeOf(part)) ?? 0;
    if (expectedTotal !== undefined && written !== expectedTotal) {
      if (written > expectedTotal) await unlink(part).catch(() => {});
      lastError = new HubError('HUB_INCOMPLETE_DOWNLOAD', src.repo, file, `received ${written} of ${expectedTotal} bytes`);
      continue;
    }
    await rename(part, dest);
    return { file, bytes: written, cached: false, resumedFrom: append ? have : 0 };
  }
  if (lastError instanceof HubError) throw lastError;
  throw new HubError('HUB_NETWORK_ERROR', src.repo, file, describeNetworkError(lastError));
}

/** Asks whether a file exists in the repo (HEAD), for error messages only; network problems count as "no". */
async function fileExists(src: HubSource, file: string, opts: HubOptions): Promise<boolean> {
  const o = defaults(opts);
  const headers: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  try {
    const res = await o.fetch(hubFileUrl(src, file, opts), { method: 'HEAD', headers, redirect: 'follow' });
    return res.ok;
  } catch {
    return false;
  }
}

/** A lock older than this (not refreshed by a live owner) is taken over. */
const LOCK_STALE_MS = 30_000;
const LOCK_REFRESH_MS = 5_000;

/**
 * A lock file next to the download, so that processes sharing a cache (several workers on one volume) do not
 * write the same .part at once. The owner refreshes its mtime; a lock left by a dead process goes stale.
 */
async function acquireLock(lockPath: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      await writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(lockPath).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) {
        // Move the stale lock aside atomically, then try again.
        const aside = `${lockPath}.stale-${process.pid}-${Date.now()}`;
        if (await rename(lockPath, aside).then(() => true, () => false)) await unlink(aside).catch(() => {});
        continue;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const timer = setInterval(() => { const now = new Date(); utimes(lockPath, now, now).catch(() => {}); }, LOCK_REFRESH_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await unlink(lockPath).catch(() => {});
  };
}

/** Fetches one file into the cache directory unless it is already there. */
async function fetchIntoCache(src: HubSource, file: string, dir: string, opts: HubOptions, optional: boolean): Promise<DownloadEvent | undefined> {
  const dest = join(dir, file);
  let existing = await sizeOf(dest);
  let event: DownloadEvent | undefined;
  if (existing === undefined) {
    const release = await acquireLock(`${dest}.lock`);
    try {
      existing = await sizeOf(dest); // another process may have completed it while we waited
      if (existing === undefined) event = await downloadFile(src, file, dest, opts, optional);
    } finally {
      await release();
    }
  }
  if (existing !== undefined) event = { file, bytes: existing, cached: true, resumedFrom: 0 };
  if (event) opts.onFile?.(event);
  return event;
}

/** Shard file names from a downloaded model.safetensors.index.json (plain names only). */
async function shardNames(indexPath: string, src: HubSource): Promise<string[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (err) {
    throw new HubError('HUB_HTTP_ERROR', src.repo, SHARDED_INDEX_FILE, `not valid JSON (${(err as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null) throw new HubError('HUB_HTTP_ERROR', src.repo, SHARDED_INDEX_FILE, 'has no "weight_map" object');
  const names = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const n of names) {
    if (typeof n !== 'string' || !/^[A-Za-z0-9_.-]+\.safetensors$/.test(n)) {
      throw new HubError('HUB_HTTP_ERROR', src.repo, SHARDED_INDEX_FILE, `weight_map names an invalid shard file ${JSON.stringify(n)}`);
    }
  }
  return names as string[];
}

const inflight = new Map<string, Promise<string>>();

/**
 * Downloads what a checkpoint needs (config.json, model.safetensors or the sharded index and its shards, and the
 * tokenizer files that exist) into the cache and returns the directory. A completed download is marked, and a
 * marked directory is returned without touching the network (pin a commit hash to get a fixed snapshot; a branch
 * such as "main" is cached as it was when first downloaded). Concurrent calls for one repo share a download.
 */
export function downloadHubRepo(src: HubSource, opts: HubOptions = {}): Promise<string> {
  const dir = hubCacheDir(src, opts);
  const running = inflight.get(dir);
  if (running) return running;
  const job = (async () => {
    if (await sizeOf(join(dir, COMPLETE_MARKER)) !== undefined) return dir;
    await mkdir(dir, { recursive: true });
    const files: string[] = [];
    for (const f of REQUIRED_FILES) {
      await fetchIntoCache(src, f, dir, opts, false);
      files.push(f);
    }
    if (await fetchIntoCache(src, 'model.safetensors', dir, opts, true)) {
      files.push('model.safetensors');
    } else if (await fetchIntoCache(src, SHARDED_INDEX_FILE, dir, opts, true)) {
      files.push(SHARDED_INDEX_FILE);
      for (const shard of await shardNames(join(dir, SHARDED_INDEX_FILE), src)) {
        await fetchIntoCache(src, shard, dir, opts, false);
        files.push(shard);
      }
    } else {
      const pt = await fileExists(src, 'pytorch_model.bin', opts);
      throw new HubError('HUB_NOT_FOUND', src.repo, 'model.safetensors', pt
        ? 'the repo has only pytorch_model.bin; pickled PyTorch weights are not supported (use a revision with model.safetensors, e.g. the hub\'s "refs/pr/N" safetensors conversion)'
        : `neither model.safetensors nor ${SHARDED_INDEX_FILE} exists at revision "${src.revision}"`);
    }
    for (const f of OPTIONAL_FILES) if (await fetchIntoCache(src, f, dir, opts, true)) files.push(f);
    await writeFile(join(dir, COMPLETE_MARKER), JSON.stringify({ repo: src.repo, revision: src.revision, files, completedAt: new Date().toISOString() }, null, 2));
    return dir;
  })();
  inflight.set(dir, job);
  const clear = () => { inflight.delete(dir); };
  job.then(clear, clear);
  return job;
}

export interface ResolveOptions extends HubOptions {
  /** When set, local directories must lie inside one of these roots (symlinks resolved); hub sources are unaffected. */
  allowDirs?: string[];
}

const isInside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
};

/** Turns a model source ("hf:org/name[@rev]" or a directory) into a local checkpoint directory. */
export async function resolveModelSource(source: string, opts: ResolveOptions = {}): Promise<string> {
  const hub = parseHubSource(source);
  if (hub) return downloadHubRepo(hub, opts);
  if (source.trim() === '') throw new ModelSourceError('INVALID_MODEL_SOURCE', source, 'empty model source');
  const abs = resolve(source);
  const roots = opts.allowDirs && (await Promise.all(opts.allowDirs.map(async (d) => [resolve(d), await realpath(resolve(d)).catch(() => resolve(d))]))).flat();
  const notAllowed = () => new ModelSourceError('MODEL_SOURCE_NOT_ALLOWED', source, 'local model directories must be inside one of the allowed directories');
  // Checked before and after resolving symlinks: nothing about paths outside the roots is revealed, and a
  // symlink inside a root cannot lead out of it.
  if (roots && !roots.some((root) => isInside(root, abs))) throw notAllowed();
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    const hint = /^[\w.-]+\/[\w.-]+$/.test(source) ? ` (for a hub model write "hf:${source}")` : '';
    throw new ModelSourceError('MODEL_SOURCE_NOT_FOUND', source, `no such directory${hint}`);
  }
  if (roots && !roots.some((root) => isInside(root, real))) throw notAllowed();
  const s = await stat(real);
  if (!s.isDirectory()) throw new ModelSourceError('MODEL_SOURCE_NOT_FOUND', source, 'is not a directory');
  return real;
}
