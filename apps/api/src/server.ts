// Process entry: read the config, check that Redis answers, build the app and listen on PORT (default 8080).
// Run with `node --import tsx apps/api/src/server.ts` (or `npm start -w @hifi/api`).
import { exitUnlessRedisReachable } from '@hifi/jobs';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type ApiConfig } from './config.ts';

async function main(): Promise<void> {
  let config: ApiConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`hifi-api: bad configuration: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  await exitUnlessRedisReachable('hifi-api', config.redisUrl);
  const app = await buildApp({ config });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
}

main().catch((err: unknown) => {
  console.error('hifi-api: failed to start:', err);
  process.exit(1);
});
