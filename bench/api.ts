// API load test: GET /v1/jobs/{id} and POST /v1/jobs at rising concurrency, with autocannon.
//   node --import tsx bench/api.ts [--duration 5] [--connections 1,8,32,128]
// The API runs as a child process (apps/api/src/server.ts) on a free port, against the local Redis under a fresh
// `hifi-bench-<uuid>` prefix and fs storage in a temp dir; no worker runs, so POSTed jobs stay queued. Every key
// under the prefix and the temp dir are removed at the end. autocannon runs in this process: on a small machine
// the load generator and the server share the CPUs, so read the figures as a floor, not a ceiling.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(process.env.HIFI_SHARED ?? join(root, '..', 'shared'));
const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '1,8,32,128' } } });
const duration = Number(values.duration);
const levels = values.connections.split(',').map(Number);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const API_KEY = 'bench-key-0123456789';

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  if (!/^hifi-bench-[0-9a-f-]{36}$/.test(prefix)) throw new Error(`refusing to delete keys of ${prefix}`);
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

const prefix = `hifi-bench-${randomUUID()}`;
const dir = await mkdtemp(join(tmpdir(), 'hifi-bench-api-'));
const redis = new Redis(REDIS_URL);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/api/src/server.ts')], {
  cwd: root,
  env: {
    ...process.env,
    REDIS_URL, HIFI_REDIS_PREFIX: prefix, HIFI_STORAGE: 'fs', HIFI_DATA_DIR: join(dir, 'objects'), PORT: String(port), HOST: '127.0.0.1',
    HIFI_API_KEYS: `bench:${API_KEY}`, HIFI_RATE_LIMIT_JOBS_PER_MINUTE: '1000000', LOG_LEVEL: 'warn',
    HIFI_MODEL_DIRS: join(shared, 'fixtures'), GLUE_DIR: join(shared, 'data', 'glue'),
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
const spec = JSON.stringify({
  model: join(shared, 'fixtures', 'tiny-bert'),
  task: 'glue:SST-2',
  hyperparameters: { maxTrainExamples: 64, epochs: 1, maxLength: 32 },
  metadata: { bench: 'api' },
});

interface Row {
  scenario: string;
  connections: number;
  requests: number;
  rps: number;
  mean: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

function run(scenario: string, opts: autocannon.Options): Promise<Row> {
  return new Promise((ok, fail) => {
    autocannon(opts, (err, r) => {
      if (err) return fail(err);
      ok({
        scenario,
        connections: opts.connections ?? 1,
        requests: r.requests.total,
        rps: r.requests.average,
        mean: r.latency.mean,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
      });
    });
  });
}

try {
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (server.exitCode !== null) throw new Error(`the API exited with ${server.exitCode}`);
    if (Date.now() > until) throw new Error('the API did not become ready within 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const created = await fetch(`${base}/v1/jobs`, { method: 'POST', headers, body: spec });
  if (created.status !== 202) throw new Error(`POST /v1/jobs: ${created.status} ${await created.text()}`);
  const jobId = ((await created.json()) as { id: string }).id;

  const rows: Row[] = [];
  for (const connections of levels) {
    rows.push(await run('GET /v1/jobs/{id}', { url: `${base}/v1/jobs/${jobId}`, connections, duration, headers }));
    rows.push(await run('POST /v1/jobs', { url: `${base}/v1/jobs`, method: 'POST', connections, duration, headers, body: spec }));
  }

  const fmt = (n: number, d = 1) => n.toFixed(d);
  console.log(`\nAPI load test: ${duration} s per row, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}; server and load generator on the same machine\n`);
  // autocannon records latency in whole milliseconds, so p50 reads 0 below 1 ms; the mean keeps the fraction.
  console.log('| endpoint | connections | requests | req/s | mean ms | p50 ms | p99 ms | non-2xx | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.scenario} | ${r.connections} | ${r.requests} | ${fmt(r.rps)} | ${fmt(r.mean, 2)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.non2xx} | ${r.errors} |`);
} finally {
  if (server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  const removed = await deletePrefix(redis, prefix);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
  console.log(`\ncleaned up ${removed} Redis keys under ${prefix} and ${dir}`);
}
