// Process entry: read the config, check that Redis answers (one clear line and exit 1 if not), start the workers,
// and stop gracefully on SIGTERM/SIGINT (running jobs checkpoint and go back to the queue; exit 0).
// Run with `node --import tsx apps/worker/src/main.ts` (or `npm start -w @hifi/worker`).
import { exitUnlessRedisReachable } from '@hifi/jobs';
import { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startWorker } from './worker-app.ts';

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
  await exitUnlessRedisReachable('hifi-worker', config.redisUrl);
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
