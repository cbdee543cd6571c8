// The syntax of `JobSpec.model`. The API checks it when a job is submitted (and whether a local path is under
// an allowed directory); the worker uses the same parse to know where to load from.
import { isAbsolute, normalize } from 'node:path';

export type ModelSourceRef =
  | { kind: 'hf'; repo: string; revision: string | null }
  | { kind: 's3'; bucket: string; key: string }
  | { kind: 'registered'; id: string }
  | { kind: 'local'; path: string };

export type ModelSourceParse = { ok: true; source: ModelSourceRef } | { ok: false; reason: string };

const HF_RE = /^hf:((?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95})(?:@([A-Za-z0-9._\/-]{1,255}))?$/;
const S3_RE = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/;
const REGISTERED_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function hasDotSegment(path: string): boolean {
  return path.split('/').some((s) => s === '..' || s === '.');
}

export function parseModelSource(value: string): ModelSourceParse {
  if (value.includes('\0')) return { ok: false, reason: 'contains a NUL character' };
  if (value.startsWith('hf:')) {
    const m = HF_RE.exec(value);
    if (!m || hasDotSegment(m[1]!)) return { ok: false, reason: 'expected hf:org/name or hf:org/name@revision' };
    return { ok: true, source: { kind: 'hf', repo: m[1]!, revision: m[2] ?? null } };
  }
  if (value.startsWith('s3://')) {
    const m = S3_RE.exec(value);
    if (!m || hasDotSegment(m[2]!)) return { ok: false, reason: 'expected s3://bucket/key with a valid bucket name and no . or .. segments' };
    return { ok: true, source: { kind: 's3', bucket: m[1]!, key: m[2]! } };
  }
  if (value.startsWith('file://') || value.startsWith('/')) {
    const path = value.startsWith('file://') ? value.slice('file://'.length) : value;
    if (!isAbsolute(path)) return { ok: false, reason: 'a local path must be absolute' };
    return { ok: true, source: { kind: 'local', path: normalize(path) } };
  }
  if (REGISTERED_RE.test(value) && !value.includes('..')) return { ok: true, source: { kind: 'registered', id: value } };
  return { ok: false, reason: 'expected hf:org/name[@rev], s3://bucket/key, a registered model id or an absolute path' };
}
