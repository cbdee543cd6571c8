// @hifi/api: the REST API. `buildApp` makes the app; `server.ts` is the process entry (not exported).
export { buildApp, createRedis, API_VERSION, type BuildAppOptions } from './app.ts';
export { loadConfig, ConfigError, type ApiConfig } from './config.ts';
export { parseApiKeysFile, sha256Hex } from './api-keys.ts';
