// The API's settings, read from the environment and normalised once (defaults, types, checks). The settings it
// shares with the worker (Redis, storage, model and GLUE folders, log level, webhook-private flag) come from
// @hifi/jobs' serviceSettingsFromEnv; this file adds the API's own. A bad value throws a ConfigError naming the
// variable. apps/api/README.md lists the same variables.
import { envInteger, envString, ServiceConfigError, serviceSettingsFromEnv, type ServiceEnv, type ServiceSettings } from '@hifi/jobs';

/** A bad API setting (the error every service config throws, under the API's name for it). */
export { ServiceConfigError as ConfigError };

export interface ApiConfig extends ServiceSettings {
  port: number;
  host: string;
  /** Development keys, `tenant:key` pairs. */
  apiKeys: { tenant: string; key: string }[];
  /** Production keys: a file of `tenant:sha256hex` lines or a JSON array of such strings. */
  apiKeysFile: string | null;
  maxUploadBytes: number;
  rateLimitJobsPerMinute: number;
  /** Largest JSON request body. */
  bodyLimitBytes: number;
  /** Seconds between SSE heartbeat comments. */
  sseHeartbeatSeconds: number;
}

function parseApiKeys(raw: string | undefined): { tenant: string; key: string }[] {
  if (raw === undefined) return [];
  return raw.split(',').map((pair, i) => {
    const at = pair.indexOf(':');
    const tenant = pair.slice(0, at).trim();
    const key = pair.slice(at + 1).trim();
    if (at <= 0 || key === '') throw new ServiceConfigError('HIFI_API_KEYS', `entry ${i + 1} must be tenant:key`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(tenant)) throw new ServiceConfigError('HIFI_API_KEYS', `entry ${i + 1}: tenant ${JSON.stringify(tenant)} may use letters, digits, _ . - (at most 64)`);
    if (key.length < 8) throw new ServiceConfigError('HIFI_API_KEYS', `entry ${i + 1}: the key of tenant ${tenant} must have at least 8 characters`);
    return { tenant, key };
  });
}

export function loadConfig(env: ServiceEnv = process.env): ApiConfig {
  return {
    ...serviceSettingsFromEnv(env),
    port: envInteger(env, 'PORT', 8080, 0, 65535),
    host: envString(env, 'HOST') ?? '0.0.0.0',
    apiKeys: parseApiKeys(envString(env, 'HIFI_API_KEYS')),
    apiKeysFile: envString(env, 'HIFI_API_KEYS_FILE') ?? null,
    maxUploadBytes: envInteger(env, 'HIFI_MAX_UPLOAD_BYTES', 100 * 1024 * 1024, 1, 2 ** 40),
    rateLimitJobsPerMinute: envInteger(env, 'HIFI_RATE_LIMIT_JOBS_PER_MINUTE', 60, 1, 1_000_000),
    bodyLimitBytes: envInteger(env, 'HIFI_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    sseHeartbeatSeconds: envInteger(env, 'HIFI_SSE_HEARTBEAT_SECONDS', 15, 1, 3600),
  };
}
