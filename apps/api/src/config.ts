// The API's settings, read from the environment and normalised once (defaults, types, checks). A bad value
// throws a ConfigError naming the variable. apps/api/README.md lists the same variables.
import { isAbsolute, resolve, delimiter } from 'node:path';
import { DEFAULT_REDIS_PREFIX, redisKeys } from '@hifi/jobs';
import { storageConfigFromEnv, type StorageConfig } from '@hifi/storage';

export interface ApiConfig {
  port: number;
  host: string;
  redisUrl: string;
  redisPrefix: string;
  storage: StorageConfig;
  /** Absolute directories models may be loaded from (local paths and registered model ids). */
  modelDirs: string[];
  /** Where the GLUE data lives; when set, `glue:NAME` must have a folder there. */
  glueDir: string | null;
  /** Development keys, `tenant:key` pairs. */
  apiKeys: { tenant: string; key: string }[];
  /** Production keys: a file of `tenant:sha256hex` lines or a JSON array of such strings. */
  apiKeysFile: string | null;
  maxUploadBytes: number;
  rateLimitJobsPerMinute: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest JSON request body. */
  bodyLimitBytes: number;
  /** Seconds between SSE heartbeat comments. */
  sseHeartbeatSeconds: number;
  /**
   * HIFI_WEBHOOK_ALLOW_PRIVATE: accept webhook URLs whose host is a loopback, private, link-local, CGNAT or
   * unique-local address or a localhost name (refused with a 422 otherwise).
   */
  webhookAllowPrivate: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
  return n;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (TRUE.includes(raw.toLowerCase())) return true;
  if (FALSE.includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `${JSON.stringify(raw)} must be 1 or 0 (or true/false, yes/no, on/off)`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function parseApiKeys(raw: string | undefined): { tenant: string; key: string }[] {
  if (raw === undefined) return [];
  return raw.split(',').map((pair, i) => {
    const at = pair.indexOf(':');
    const tenant = pair.slice(0, at).trim();
    const key = pair.slice(at + 1).trim();
    if (at <= 0 || key === '') throw new ConfigError('HIFI_API_KEYS', `entry ${i + 1} must be tenant:key`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(tenant)) throw new ConfigError('HIFI_API_KEYS', `entry ${i + 1}: tenant ${JSON.stringify(tenant)} may use letters, digits, _ . - (at most 64)`);
    if (key.length < 8) throw new ConfigError('HIFI_API_KEYS', `entry ${i + 1}: the key of tenant ${tenant} must have at least 8 characters`);
    return { tenant, key };
  });
}

function parseDirs(name: string, raw: string | undefined): string[] {
  if (raw === undefined) return [];
  return raw
    .split(new RegExp(`[,${delimiter}]`))
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map((d) => {
      if (!isAbsolute(d)) throw new ConfigError(name, `${JSON.stringify(d)} must be an absolute path`);
      return resolve(d);
    });
}

export function loadConfig(env: Env = process.env): ApiConfig {
  const redisUrl = value(env, 'REDIS_URL') ?? 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('REDIS_URL', `${JSON.stringify(redisUrl)} must start with redis:// or rediss://`);
  const redisPrefix = value(env, 'HIFI_REDIS_PREFIX') ?? DEFAULT_REDIS_PREFIX;
  try {
    redisKeys(redisPrefix);
  } catch {
    throw new ConfigError('HIFI_REDIS_PREFIX', `${JSON.stringify(redisPrefix)} may use letters, digits, _ . - (at most 64)`);
  }
  let storage: StorageConfig;
  try {
    storage = storageConfigFromEnv(env);
  } catch (err) {
    const setting = (err as { setting?: string }).setting ?? 'HIFI_STORAGE';
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(setting, message.startsWith(`${setting}: `) ? message.slice(setting.length + 2) : message);
  }
  const logLevel = value(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError('LOG_LEVEL', `${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  const glueDir = value(env, 'GLUE_DIR');
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: value(env, 'HOST') ?? '0.0.0.0',
    redisUrl,
    redisPrefix,
    storage,
    modelDirs: parseDirs('HIFI_MODEL_DIRS', value(env, 'HIFI_MODEL_DIRS')),
    glueDir: glueDir === undefined ? null : resolve(glueDir),
    apiKeys: parseApiKeys(value(env, 'HIFI_API_KEYS')),
    apiKeysFile: value(env, 'HIFI_API_KEYS_FILE') ?? null,
    maxUploadBytes: integer(env, 'HIFI_MAX_UPLOAD_BYTES', 100 * 1024 * 1024, 1, 2 ** 40),
    rateLimitJobsPerMinute: integer(env, 'HIFI_RATE_LIMIT_JOBS_PER_MINUTE', 60, 1, 1_000_000),
    logLevel: logLevel as ApiConfig['logLevel'],
    bodyLimitBytes: integer(env, 'HIFI_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    sseHeartbeatSeconds: integer(env, 'HIFI_SSE_HEARTBEAT_SECONDS', 15, 1, 3600),
    webhookAllowPrivate: flag(env, 'HIFI_WEBHOOK_ALLOW_PRIVATE', false),
  };
}
