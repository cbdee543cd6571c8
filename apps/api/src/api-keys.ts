// API keys → tenants. Keys are only ever held as sha256 hex digests: from HIFI_API_KEYS (development: the
// plain keys are hashed at start-up), from HIFI_API_KEYS_FILE (production: `tenant:sha256hex` per line, or a JSON
// array of such strings), and, failing both, from Redis (`<prefix>:apikey:<sha256>` → tenant).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isTenant } from '@hifi/jobs';
import { ConfigError } from './config.ts';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Parses the contents of HIFI_API_KEYS_FILE. */
export function parseApiKeysFile(text: string, file: string): Map<string, string> {
  const trimmed = text.trim();
  let entries: string[];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ConfigError('HIFI_API_KEYS_FILE', `${file}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(parsed) || !parsed.every((e) => typeof e === 'string')) {
      throw new ConfigError('HIFI_API_KEYS_FILE', `${file}: a JSON file must be an array of "tenant:sha256hex" strings`);
    }
    entries = parsed;
  } else {
    entries = trimmed.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  }
  const map = new Map<string, string>();
  entries.forEach((entry, i) => {
    const m = /^([^:]+):([0-9a-fA-F]{64})$/.exec(entry);
    if (!m || !isTenant(m[1]!)) throw new ConfigError('HIFI_API_KEYS_FILE', `${file}: entry ${i + 1} must be tenant:sha256hex (64 hex digits)`);
    map.set(m[2]!.toLowerCase(), m[1]!);
  });
  return map;
}

/** key hash → tenant, from the configured sources. */
export function loadApiKeyHashes(opts: { apiKeys: { tenant: string; key: string }[]; apiKeysFile: string | null }): Map<string, string> {
  const map = new Map<string, string>();
  for (const { tenant, key } of opts.apiKeys) map.set(sha256Hex(key), tenant);
  if (opts.apiKeysFile !== null) {
    let text: string;
    try {
      text = readFileSync(opts.apiKeysFile, 'utf8');
    } catch (err) {
      throw new ConfigError('HIFI_API_KEYS_FILE', `cannot read ${opts.apiKeysFile}: ${(err as Error).message}`);
    }
    for (const [hash, tenant] of parseApiKeysFile(text, opts.apiKeysFile)) map.set(hash, tenant);
  }
  return map;
}
