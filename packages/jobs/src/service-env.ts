// Environment settings read the same way by the API and the worker: the readers (a trimmed string, an integer in a
// range, a 1/0 flag, a list of absolute directories) and the settings both processes share (Redis, storage, model
// and GLUE folders, log level, HIFI_WEBHOOK_ALLOW_PRIVATE). Each app's config.ts adds its own settings on top.
// A bad value throws a ServiceConfigError whose message starts with the variable's name.
import { delimiter, isAbsolute, resolve } from 'node:path';
import { storageConfigFromEnv, type StorageConfig } from '@hifi/storage';
import { DEFAULT_REDIS_PREFIX, redisKeys } from './redis-keys.ts';

export type ServiceEnv = Readonly<Record<string, string | undefined>>;

/** A missing or malformed environment variable; `variable` names it and the message reads `VARIABLE: problem`. */
export class ServiceConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ServiceConfigError';
  }
}

/** The variable's value, trimmed; undefined when it is unset or blank. */
export function envString(env: ServiceEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** An integer from `min` to `max`, or `fallback` when the variable is unset or blank. */
export function envInteger(env: ServiceEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ServiceConfigError(name, `${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
  return n;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** 1/true/yes/on or 0/false/no/off (any case), or `fallback` when the variable is unset or blank. */
export function envFlag(env: ServiceEnv, name: string, fallback: boolean): boolean {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (TRUE.includes(raw.toLowerCase())) return true;
  if (FALSE.includes(raw.toLowerCase())) return false;
  throw new ServiceConfigError(name, `${JSON.stringify(raw)} must be 1 or 0 (or true/false, yes/no, on/off)`);
}

/** Absolute directories separated by commas or the platform's path delimiter; [] when unset. */
export function envDirs(env: ServiceEnv, name: string): string[] {
  const raw = envString(env, name);
  if (raw === undefined) return [];
  return raw
    .split(new RegExp(`[,${delimiter}]`))
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map((d) => {
      if (!isAbsolute(d)) throw new ServiceConfigError(name, `${JSON.stringify(d)} must be an absolute path`);
      return resolve(d);
    });
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The settings the API and the worker both read, with the same variables, defaults and checks. */
export interface ServiceSettings {
  /** REDIS_URL (redis:// or rediss://; default redis://127.0.0.1:6379). */
  redisUrl: string;
  /** HIFI_REDIS_PREFIX: the first segment of every Redis key (default hifi). */
  redisPrefix: string;
  /** HIFI_STORAGE, HIFI_DATA_DIR and the S3 variables (see @hifi/storage's storageConfigFromEnv). */
  storage: StorageConfig;
  /** HIFI_MODEL_DIRS: absolute directories local models and registered model ids may come from. */
  modelDirs: string[];
  /** GLUE_DIR: the folder holding CoLA/, SST-2/, …; null when not set. */
  glueDir: string | null;
  /** LOG_LEVEL (default info). */
  logLevel: LogLevel;
  /**
   * HIFI_WEBHOOK_ALLOW_PRIVATE: webhook URLs whose host is a loopback, private, link-local, CGNAT or unique-local
   * address or a localhost name are accepted (API) and delivered to (worker). Off by default.
   */
  webhookAllowPrivate: boolean;
}

/** Reads the shared settings from `env` (default: process.env); throws ServiceConfigError naming a bad variable. */
export function serviceSettingsFromEnv(env: ServiceEnv = process.env): ServiceSettings {
  const redisUrl = envString(env, 'REDIS_URL') ?? 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ServiceConfigError('REDIS_URL', `${JSON.stringify(redisUrl)} must start with redis:// or rediss://`);
  const redisPrefix = envString(env, 'HIFI_REDIS_PREFIX') ?? DEFAULT_REDIS_PREFIX;
  try {
    redisKeys(redisPrefix);
  } catch {
    throw new ServiceConfigError('HIFI_REDIS_PREFIX', `${JSON.stringify(redisPrefix)} may use letters, digits, _ . - (at most 64)`);
  }
  let storage: StorageConfig;
  try {
    storage = storageConfigFromEnv(env);
  } catch (err) {
    // StorageConfigError's message already starts with `SETTING: `; keep it once.
    const setting = (err as { setting?: string }).setting ?? 'HIFI_STORAGE';
    const message = err instanceof Error ? err.message : String(err);
    throw new ServiceConfigError(setting, message.startsWith(`${setting}: `) ? message.slice(setting.length + 2) : message);
  }
  const logLevel = envString(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ServiceConfigError('LOG_LEVEL', `${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  const glueDir = envString(env, 'GLUE_DIR');
  return {
    redisUrl,
    redisPrefix,
    storage,
    modelDirs: envDirs(env, 'HIFI_MODEL_DIRS'),
    glueDir: glueDir === undefined ? null : resolve(glueDir),
    logLevel: logLevel as LogLevel,
    webhookAllowPrivate: envFlag(env, 'HIFI_WEBHOOK_ALLOW_PRIVATE', false),
  };
}
