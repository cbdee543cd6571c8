// Process entry: read the config, check that Redis answers, build the app and listen on PORT (default 8080).
// Run with `node --import tsx apps/api/src/server.ts` (or `npm start -w @hifi/api`).
import { buildApp, createRedis } from './app.ts';
import { ConfigError, loadConfig, type ApiConfig } from './config.ts';

async function redisReachable(config: ApiConfig): Promise<boolean> {
  const probe = createRedis(config.redisUrl);
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
  if (!(await redisReachable(config))) {
    console.error(
      `hifi-api: Redis is not reachable at ${config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')}; start it (e.g. \`redis-server --daemonize yes\` or \`docker run -p 6379:6379 redis:7\`) or set REDIS_URL`,
    );
    process.exit(1);
  }
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
