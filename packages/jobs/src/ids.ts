// Identifiers: job and dataset ids are time-ordered (so they sort by creation time) and safe inside Redis keys,
// BullMQ job ids and object-storage keys. Tenants are validated with the same care because they end up in keys.
import { randomBytes } from 'node:crypto';

export const JOB_ID_PATTERN = '^job_[0-9a-z]{10}[0-9a-f]{12}$';
export const DATASET_ID_PATTERN = '^ds_[0-9a-z]{10}[0-9a-f]{12}$';
export const TENANT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

const jobIdRe = new RegExp(JOB_ID_PATTERN);
const datasetIdRe = new RegExp(DATASET_ID_PATTERN);
const tenantRe = new RegExp(TENANT_PATTERN);

const last = new Map<string, { ms: number; rand: bigint }>();
const RAND_MAX = (1n << 48n) - 1n;

/**
 * 10 base-36 digits of milliseconds (enough until the year 5188), then 48 bits. Within one process the ids are
 * strictly increasing, as in monotonic ULIDs: in the same millisecond (or if the clock steps back) the 48 bits
 * are the previous ones plus one; otherwise they are random.
 */
function timeOrderedId(prefix: string, now: number): string {
  const prev = last.get(prefix);
  let ms = now;
  let rand = BigInt(`0x${randomBytes(6).toString('hex')}`);
  if (prev && ms <= prev.ms) {
    ms = prev.ms;
    rand = prev.rand + 1n;
    if (rand > RAND_MAX) {
      ms += 1;
      rand = 0n;
    }
  }
  last.set(prefix, { ms, rand });
  return `${prefix}_${ms.toString(36).padStart(10, '0')}${rand.toString(16).padStart(12, '0')}`;
}

export function newJobId(now = Date.now()): string {
  return timeOrderedId('job', now);
}

export function newDatasetId(now = Date.now()): string {
  return timeOrderedId('ds', now);
}

export function isJobId(value: string): boolean {
  return jobIdRe.test(value);
}

export function isDatasetId(value: string): boolean {
  return datasetIdRe.test(value);
}

export function isTenant(value: string): boolean {
  return tenantRe.test(value);
}
