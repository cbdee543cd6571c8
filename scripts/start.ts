// `npm start`: the API and one worker with local storage, as two child processes sharing this environment.
// SIGINT/SIGTERM are forwarded to both (the worker checkpoints its running job and puts it back in the queue);
// if either child exits on its own, the other is stopped and this process exits with the first one's code.
// Local defaults, each only when the variable is not set: HOST=127.0.0.1, HIFI_STORAGE=fs, HIFI_DATA_DIR=./data,
// HIFI_API_KEYS=dev:dev-local-key, HIFI_WEBHOOK_ALLOW_PRIVATE=1 (webhooks to receivers on this machine or the
// local network; production leaves it unset), and GLUE_DIR / HIFI_MODEL_DIRS pointing at ../shared when it exists.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
// By path: the launcher needs only the probe, not the whole job contract (BullMQ, the storage SDKs: ~0.5 s to load).
import { exitUnlessRedisReachable } from '@hifi/jobs/redis-probe.ts';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(process.env.HIFI_SHARED ?? join(root, '..', 'shared'));

const env: NodeJS.ProcessEnv = { ...process.env };
const defaults: Record<string, string | undefined> = {
  HOST: '127.0.0.1',
  HIFI_STORAGE: 'fs',
  HIFI_DATA_DIR: join(root, 'data'),
  HIFI_API_KEYS: 'dev:dev-local-key',
  HIFI_WEBHOOK_ALLOW_PRIVATE: '1',
  GLUE_DIR: existsSync(join(shared, 'data', 'glue')) ? join(shared, 'data', 'glue') : undefined,
  HIFI_MODEL_DIRS: [join(shared, 'fixtures'), join(shared, 'models')].filter((d) => existsSync(d)).join(',') || undefined,
};
const applied: string[] = [];
for (const [name, value] of Object.entries(defaults)) {
  if (value !== undefined && (env[name] === undefined || env[name] === '')) {
    env[name] = value;
    applied.push(`${name}=${value}`);
  }
}

await exitUnlessRedisReachable('hifi', env.REDIS_URL ?? 'redis://127.0.0.1:6379');
if (applied.length > 0) console.error(`hifi: local defaults: ${applied.join(' ')}`);

const children = new Map<string, ChildProcess>();
function run(name: string, entry: string): ChildProcess {
  // Own process group: a Ctrl-C in the terminal reaches only this process, which forwards exactly one signal
  // (the worker treats a second signal as "exit now, skip the checkpoint").
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry)], { cwd: root, env, stdio: 'inherit', detached: true });
  children.set(name, child);
  return child;
}

let stopping = false;
let exitCode: number | null = null;
function stopAll(signal: NodeJS.Signals): void {
  for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

for (const [name, entry] of [['api', 'apps/api/src/server.ts'], ['worker', 'apps/worker/src/main.ts']] as const) {
  const child = run(name, entry);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (exitCode === null) exitCode = code ?? (signal ? 1 : 0);
    if (!stopping) {
      stopping = true;
      console.error(`hifi: ${name} exited (${signal ?? `code ${code}`}); stopping the rest`);
      stopAll('SIGTERM');
    }
    if (children.size === 0) process.exit(exitCode ?? 0);
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // A second signal: do not wait for the worker's checkpoint.
      stopAll('SIGKILL');
      return;
    }
    stopping = true;
    exitCode = 0;
    stopAll(signal);
  });
}
