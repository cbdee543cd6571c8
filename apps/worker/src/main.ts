// Process entry: read the config, check that Redis answers (one clear line and exit 1 if not), start the workers,
// and stop gracefully on SIGTERM/SIGINT (running jobs checkpoint and go back to the queue; exit 0).
// Run with `node --import tsx apps/worker/src/main.ts` (or `npm start -w @hifi/worker`).
import { Redis } from 'ioredis';
import { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startWorker } from './worker-app.ts';

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

async function redisReachable(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function main(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig();
  } catch (err) {
    if (err instanceof WorkerConfigError) {
      console.error(`hifi-worker: bad configuration: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  if (!(await redisReachable(config.redisUrl))) {
    console.error(
      `hifi-worker: Redis is not reachable at ${redactUrl(config.redisUrl)}; start it (e.g. \`redis-server --daemonize yes\` or \`docker run -p 6379:6379 redis:7\`) or set REDIS_URL`,
    );
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const worker = await startWorker({ config, logger });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    worker.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.send?.({ type: 'ready' });
}

main().catch((err: unknown) => {
  console.error('hifi-worker: failed to start:', err);
  process.exit(1);
});
