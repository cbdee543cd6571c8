// End-to-end harness: the real API (buildApp + listen on 127.0.0.1, port 0), real workers (in this process or as
// child processes running apps/worker/src/main.ts), a real Redis under a fresh `hifi-test-<uuid>` prefix (only
// those keys are deleted afterwards) and object storage in a temp dir (or an s3rver bucket).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp, loadConfig } from '@hifi/api';
import { isTerminal, JobStore, type Job, type JobEvent } from '@hifi/jobs';
import { deleteTestKeys, testPrefix } from '@hifi/jobs/testing.ts';
import { createStore, type ObjectStore } from '@hifi/storage';
import { loadWorkerConfig, startWorker, type RunningWorker } from '@hifi/worker';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const SHARED = resolve(process.env.HIFI_SHARED ?? join(ROOT, '..', 'shared'));
export const FIXTURES = join(SHARED, 'fixtures');
export const TINY_BERT = join(FIXTURES, 'tiny-bert');
export const GLUE_DIR = join(SHARED, 'data', 'glue');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const API_KEY = 'e2e-test-key-0123';

/** A small, fast job on tiny-bert (64 SST-2 examples, short sequences). */
export function tinyJob(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: TINY_BERT,
    task: 'glue:SST-2',
    budget: { perLayer: 2 },
    hyperparameters: { maxTrainExamples: 64, epochs: 1, maxLength: 32, batchSize: 16, analysisSamples: 32 },
    ...overrides,
  };
}

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface WorkerChild {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

export interface E2EOptions {
  /** Extra env for the API and workers (e.g. storage settings). */
  env?: Record<string, string>;
  /** Storage env instead of fs in a temp dir. */
  storageEnv?: Record<string, string>;
}

export class E2E {
  readonly prefix = testPrefix();
  readonly redis = new Redis(REDIS_URL);
  readonly jobs = new JobStore({ redis: this.redis, prefix: this.prefix });
  baseUrl = '';
  dir = '';
  env: Record<string, string> = {};
  store!: ObjectStore;
  private app: FastifyInstance | null = null;
  private workers: RunningWorker[] = [];
  private children: WorkerChild[] = [];

  static async start(opts: E2EOptions = {}): Promise<E2E> {
    const e = new E2E();
    e.dir = await mkdtemp(join(tmpdir(), 'hifi-e2e-'));
    e.env = {
      REDIS_URL,
      HIFI_REDIS_PREFIX: e.prefix,
      HIFI_STORAGE: 'fs',
      HIFI_DATA_DIR: join(e.dir, 'objects'),
      HIFI_WORK_DIR: join(e.dir, 'work'),
      HIFI_CACHE_DIR: join(e.dir, 'cache'),
      HIFI_MODEL_DIRS: [FIXTURES, join(e.dir, 'models')].join(','),
      GLUE_DIR,
      HIFI_API_KEYS: `e2e:${API_KEY}`,
      HIFI_PROGRESS_THROTTLE_MS: '0',
      HIFI_SSE_HEARTBEAT_SECONDS: '1',
      HIFI_RATE_LIMIT_JOBS_PER_MINUTE: '10000',
      LOG_LEVEL: process.env.HIFI_TEST_LOG ?? 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      ...opts.storageEnv,
      ...opts.env,
    };
    const config = loadConfig(e.env);
    e.store = createStore(config.storage);
    e.app = await buildApp({ config, objects: e.store, logger: false, processMetrics: false });
    await e.app.listen({ host: '127.0.0.1', port: 0 });
    const address = e.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('the API did not listen on a TCP port');
    e.baseUrl = `http://127.0.0.1:${address.port}`;
    return e;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${API_KEY}`, ...headers } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  async download(jobId: string, name: string): Promise<Buffer> {
    const res = await fetch(`${this.baseUrl}/v1/jobs/${jobId}/artifacts/${name}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    if (res.status !== 200) throw new Error(`GET artifact ${name}: ${res.status} ${await res.text()}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async submit(spec: Record<string, unknown>): Promise<Job> {
    const r = await this.request<Job>('POST', '/v1/jobs', spec);
    if (r.status !== 202) throw new Error(`POST /v1/jobs: ${r.status} ${r.text}`);
    return r.body;
  }

  async getJob(id: string): Promise<Job> {
    const r = await this.request<Job>('GET', `/v1/jobs/${id}`);
    if (r.status !== 200) throw new Error(`GET /v1/jobs/${id}: ${r.status} ${r.text}`);
    return r.body;
  }

  async waitForJob(id: string, pred: (job: Job) => boolean, timeoutMs = 60_000, what = 'the condition'): Promise<Job> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.getJob(id);
      if (pred(job)) return job;
      if (isTerminal(job.status) && !pred(job)) throw new Error(`job ${id} ended ${job.status} (${JSON.stringify(job.error)}) before ${what}${this.childOutput()}`);
      if (Date.now() > until) throw new Error(`timed out waiting for ${what} on job ${id}: ${JSON.stringify({ status: job.status, progress: job.progress })}${this.childOutput()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  waitForEnd(id: string, timeoutMs = 60_000): Promise<Job> {
    return this.waitForJob(id, (j) => isTerminal(j.status), timeoutMs, 'a terminal state');
  }

  async startWorker(env: Record<string, string> = {}): Promise<RunningWorker> {
    const config = loadWorkerConfig({ ...this.env, ...env });
    const w = await startWorker({ config, logger: pino({ level: process.env.HIFI_TEST_LOG ?? 'silent' }), store: this.store });
    this.workers.push(w);
    return w;
  }

  /** A worker as a child process (`node --import tsx apps/worker/src/main.ts`); resolves once it is ready. */
  async startWorkerProcess(env: Record<string, string> = {}): Promise<WorkerChild> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/worker/src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, LOG_LEVEL: process.env.HIFI_TEST_LOG ?? 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
    const handle: WorkerChild = { child, output: () => out, exited };
    this.children.push(handle);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: unknown) => {
        if ((m as { type?: string } | null)?.type === 'ready') resolve();
      });
      void exited.then((code) => reject(new Error(`worker process exited (${code}) before it was ready:\n${out}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([ready, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`worker process not ready after 30 s:\n${out}`)), 30_000)))]);
    } finally {
      clearTimeout(timer);
    }
    return handle;
  }

  private childOutput(): string {
    const outs = this.children.map((c) => c.output()).filter((o) => o.trim() !== '');
    return outs.length === 0 ? '' : `\n--- worker output ---\n${outs.join('\n---\n').slice(-4000)}`;
  }

  /** Every event of a job, read over SSE until the terminal status_changed event (or timeout). */
  async streamEvents(jobId: string, timeoutMs = 60_000): Promise<JobEvent[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const events: JobEvent[] = [];
    try {
      const res = await fetch(`${this.baseUrl}/v1/jobs/${jobId}/events/stream`, {
        headers: { authorization: `Bearer ${API_KEY}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      if (res.status !== 200 || !res.body) throw new Error(`SSE: ${res.status} ${await res.text()}`);
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let sep: number;
        while ((sep = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (data === '') continue;
          const event = JSON.parse(data) as JobEvent;
          events.push(event);
          if (event.type === 'status_changed' && isTerminal(event.data.to)) {
            controller.abort();
            return events;
          }
        }
      }
      return events;
    } catch (err) {
      if (controller.signal.aborted && events.some((e) => e.type === 'status_changed' && isTerminal(e.data.to))) return events;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    for (const c of this.children) {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.child.kill('SIGKILL');
        await c.exited;
      }
    }
    for (const w of this.workers) await w.shutdown().catch(() => {});
    if (this.app) await this.app.close();
    await this.store?.close().catch(() => {});
    await deleteTestKeys(this.redis, this.prefix);
    await this.redis.quit();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}
