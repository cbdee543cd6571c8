// JobStore: the job's state of record in Redis, shared by the API (create, read, cancel, delete) and the worker
// (status, progress, events, artifacts). Every change that must be atomic is one Lua script (job-store-scripts.ts).
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HifiError } from './errors.ts';
import { isJobId, newJobId } from './ids.ts';
import { redisKeys, type RedisKeys } from './redis-keys.ts';
import type { JobSpec } from './job-spec.ts';
import { allowedSources, isJobStatus, isTerminal, JOB_STATUSES, type JobStatus } from './job-status.ts';
import type { JobProgress } from './job-progress.ts';
import { isArtifactName, type Artifact, type Job, type JobError } from './job-record.ts';
import type { JobEvent, JobEventInput } from './job-event.ts';
import {
  addArtifactScript,
  appendEventScript,
  createJobScript,
  deleteJobScript,
  removeArtifactScript,
  requestCancelScript,
  transitionScript,
} from './job-store-scripts.ts';

export interface JobStoreOptions {
  redis: Redis;
  /** Key prefix (default `hifi`); see redis-keys.ts. */
  prefix?: string;
  /** Approximate number of events kept per job (XADD MAXLEN ~). Default 10 000. */
  eventRetention?: number;
  /** setProgress writes at most once per this many ms per job unless the stage changes. Default 1000. */
  progressThrottleMs?: number;
  /** How long an Idempotency-Key is remembered. Default 24 h. */
  idempotencyTtlSeconds?: number;
  now?: () => number;
}

export interface CreateJobInput {
  tenant: string;
  spec: JobSpec;
  /** The client's Idempotency-Key header, if any. */
  idempotencyKey?: string;
}

export interface CreateJobResult {
  job: Job;
  /** False when an earlier request with the same Idempotency-Key (and the same body) created the job. */
  created: boolean;
}

export interface ListJobsQuery {
  cursor?: string;
  limit?: number;
  status?: JobStatus;
  /** Every pair must match the job's metadata exactly. */
  metadata?: Record<string, string>;
}

export interface JobPage {
  items: Job[];
  /** Pass back as `cursor` for the next page; null when there is nothing more. */
  nextCursor: string | null;
}

export interface UpdateStatusOptions {
  reason?: string;
  /** Recorded on the job (and emitted as an `error` event) — normally with `failed`. */
  error?: JobError;
  resumedFromStep?: number;
}

export type UpdateStatusResult = { changed: true; from: JobStatus } | { changed: false; from: JobStatus };

export type CancelResult =
  | { outcome: 'cancelled'; job: Job }
  | { outcome: 'requested'; job: Job }
  | { outcome: 'terminal'; job: Job };

/** Bodies are compared by the sha256 of their canonical JSON (keys sorted), so key order does not matter. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const MAX_PAGE = 100;
const SCAN_BATCH = 100;
/** A filtered page stops after looking at this many jobs and returns a cursor to continue. */
const MAX_SCANNED_PER_PAGE = 2000;

/** Cursors are opaque to clients: base64url of the last job id of the page. */
function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isJobId(id)) throw new HifiError('INVALID_CURSOR', 'the cursor is not one this API returned', { param: 'cursor' });
  return id;
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  return text === undefined || text === '' ? fallback : (JSON.parse(text) as T);
}

export class JobStore {
  readonly keys: RedisKeys;
  private readonly redis: Redis;
  private readonly eventRetention: number;
  private readonly progressThrottleMs: number;
  private readonly idempotencyTtlSeconds: number;
  private readonly now: () => number;
  private readonly lastProgressWrite = new Map<string, { at: number; stage: JobStatus }>();

  constructor(opts: JobStoreOptions) {
    this.redis = opts.redis;
    this.keys = redisKeys(opts.prefix);
    this.eventRetention = opts.eventRetention ?? 10_000;
    this.progressThrottleMs = opts.progressThrottleMs ?? 1000;
    this.idempotencyTtlSeconds = opts.idempotencyTtlSeconds ?? 86_400;
    this.now = opts.now ?? Date.now;
  }

  private iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  /**
   * Creates a queued job. With an idempotency key, a repeat of the same request (same tenant, key and body)
   * returns the job created the first time; the same key with a different body is an IDEMPOTENCY_KEY_REUSED error.
   */
  async create(input: CreateJobInput): Promise<CreateJobResult> {
    const bodyHash = sha256(canonicalJson(input.spec));
    const idemKey = input.idempotencyKey === undefined ? null : this.keys.idempotency(input.tenant, sha256(input.idempotencyKey));
    for (let attempt = 0; attempt < 2; attempt++) {
      const nowMs = this.now();
      const at = this.iso(nowMs);
      const id = newJobId(nowMs);
      const fields: Record<string, string> = {
        id,
        tenant: input.tenant,
        status: 'queued',
        cancelRequested: '0',
        spec: JSON.stringify(input.spec),
        progress: '',
        error: '',
        createdAt: at,
        updatedAt: at,
        startedAt: '',
        finishedAt: '',
        resumedFromStep: '',
        eventSeq: '0',
        idempotencyKey: idemKey ?? '',
      };
      const reply = (await createJobScript.run(
        this.redis,
        [this.keys.job(id), this.keys.tenantJobs(input.tenant), this.keys.jobCountsByStatus, idemKey ?? this.keys.job(id), this.keys.jobEvents(id)],
        [
          id,
          nowMs,
          idemKey === null ? '' : `${id} ${bodyHash}`,
          this.idempotencyTtlSeconds,
          this.keys.jobLiveChannel(id),
          this.eventRetention,
          at,
          '{"from":null,"to":"queued"}',
          ...Object.entries(fields).flat(),
        ],
      )) as [number, string];
      if (reply[0] === 1) {
        const job = await this.get(id);
        if (!job) throw new Error(`job ${id} vanished right after creation`);
        return { job, created: true };
      }
      const [existingId, existingHash] = reply[1].split(' ');
      const existing = existingId ? await this.get(existingId, { tenant: input.tenant }) : null;
      if (!existing) {
        // The key outlived its job (deleted meanwhile): forget it and create afresh.
        if (idemKey) await this.redis.del(idemKey);
        continue;
      }
      if (existingHash !== bodyHash) {
        throw new HifiError(
          'IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key was already used for job ${existing.id} with a different request body`,
          { param: 'Idempotency-Key' },
        );
      }
      return { job: existing, created: false };
    }
    throw new Error('could not create the job: the idempotency key kept pointing at a deleted job');
  }

  /** The job, or null when it does not exist or (with `tenant`) belongs to another tenant. */
  async get(id: string, opts: { tenant?: string } = {}): Promise<Job | null> {
    const [hashReply, artifactsReply] = (await this.redis
      .multi()
      .hgetall(this.keys.job(id))
      .hgetall(this.keys.jobArtifacts(id))
      .exec()) ?? [[null, {}], [null, {}]];
    if (hashReply[0] || artifactsReply[0]) throw hashReply[0] ?? artifactsReply[0];
    const hash = hashReply[1] as Record<string, string>;
    if (!hash.id) return null;
    if (opts.tenant !== undefined && hash.tenant !== opts.tenant) return null;
    return this.fromHash(hash, artifactsReply[1] as Record<string, string>);
  }

  private fromHash(hash: Record<string, string>, artifactHash: Record<string, string>): Job {
    const status = hash.status ?? '';
    if (!isJobStatus(status)) throw new Error(`job ${hash.id} has an unknown status ${JSON.stringify(status)}`);
    const artifacts = Object.values(artifactHash)
      .map((a) => JSON.parse(a) as Artifact)
      .sort((a, b) => (a.createdAt === b.createdAt ? (a.name < b.name ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
    return {
      id: hash.id!,
      tenant: hash.tenant!,
      spec: JSON.parse(hash.spec!) as JobSpec,
      status,
      cancelRequested: hash.cancelRequested === '1',
      progress: parseJson<JobProgress | null>(hash.progress, null),
      error: parseJson<JobError | null>(hash.error, null),
      artifacts,
      createdAt: hash.createdAt!,
      updatedAt: hash.updatedAt!,
      startedAt: hash.startedAt || null,
      finishedAt: hash.finishedAt || null,
      resumedFromStep: hash.resumedFromStep ? Number(hash.resumedFromStep) : null,
      lastEventId: Number(hash.eventSeq ?? 0),
    };
  }

  /**
   * Newest first. The tenant's index holds job ids (time-ordered) with equal scores, so a cursor is simply the
   * last id seen. Filters are applied while walking the index; a filtered page may hold fewer than `limit`
   * items and still have a `nextCursor` (it stops after looking at MAX_SCANNED_PER_PAGE jobs).
   */
  async list(tenant: string, query: ListJobsQuery = {}): Promise<JobPage> {
    const limit = Math.min(Math.max(query.limit ?? 20, 1), MAX_PAGE);
    const index = this.keys.tenantJobs(tenant);
    let after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const metadata = Object.entries(query.metadata ?? {});
    const items: Job[] = [];
    let scanned = 0;
    while (scanned < MAX_SCANNED_PER_PAGE) {
      const ids = await this.redis.zrevrangebylex(index, after === null ? '+' : `(${after}`, '-', 'LIMIT', 0, SCAN_BATCH);
      if (ids.length === 0) return { items, nextCursor: null };
      const jobs = await Promise.all(ids.map((id) => this.get(id, { tenant })));
      for (let i = 0; i < ids.length; i++) {
        scanned++;
        after = ids[i]!;
        const job = jobs[i];
        if (job && (!query.status || job.status === query.status) && metadata.every(([k, v]) => job.spec.metadata[k] === v)) {
          items.push(job);
          if (items.length === limit) {
            const more = i < ids.length - 1 || (await this.redis.zrevrangebylex(index, `(${after}`, '-', 'LIMIT', 0, 1)).length > 0;
            return { items, nextCursor: more ? encodeCursor(after) : null };
          }
        }
      }
      if (ids.length < SCAN_BATCH) return { items, nextCursor: null };
    }
    return { items, nextCursor: after === null ? null : encodeCursor(after) };
  }

  /**
   * Moves the job to `to` if the transition is allowed (job-status.ts); terminal states are final. Appends a
   * `status_changed` event (and an `error` event when `opts.error` is given) in the same atomic step.
   * Moving to the current status is a no-op ({changed: false}). A disallowed move throws a CONFLICT error.
   */
  async updateStatus(id: string, to: JobStatus, opts: UpdateStatusOptions = {}): Promise<UpdateStatusResult> {
    const at = this.iso();
    const [outcome, from] = (await transitionScript.run(
      this.redis,
      [this.keys.job(id), this.keys.jobCountsByStatus, this.keys.jobEvents(id)],
      [
        to,
        allowedSources(to).join(','),
        at,
        isTerminal(to) ? '1' : '0',
        this.keys.jobLiveChannel(id),
        this.eventRetention,
        id,
        opts.reason === undefined ? '' : JSON.stringify(opts.reason),
        opts.error === undefined ? '' : JSON.stringify(opts.error),
        opts.resumedFromStep === undefined ? '' : String(opts.resumedFromStep),
      ],
    )) as [string, string];
    if (outcome === 'missing') throw new HifiError('NOT_FOUND', `job ${id} does not exist`);
    if (outcome === 'invalid') throw new HifiError('CONFLICT', `job ${id} cannot move from ${from} to ${to}`, { param: 'status' });
    if (isTerminal(to)) this.lastProgressWrite.delete(id);
    return { changed: outcome === 'ok', from: from as JobStatus };
  }

  /**
   * Records progress and appends a `progress` event, at most once per `progressThrottleMs` per job unless the
   * stage changed or `force` is set. Returns whether it wrote. Progress of a terminal job is ignored.
   */
  async setProgress(id: string, progress: Omit<JobProgress, 'updatedAt'>, opts: { force?: boolean } = {}): Promise<boolean> {
    const nowMs = this.now();
    const last = this.lastProgressWrite.get(id);
    if (!opts.force && last && last.stage === progress.stage && nowMs - last.at < this.progressThrottleMs) return false;
    const at = this.iso(nowMs);
    const full: JobProgress = { ...progress, updatedAt: at };
    const json = JSON.stringify(full);
    const reply = Number(
      await appendEventScript.run(
        this.redis,
        [this.keys.job(id), this.keys.jobEvents(id)],
        ['progress', at, json, this.keys.jobLiveChannel(id), this.eventRetention, id, json],
      ),
    );
    if (reply === 0) throw new HifiError('NOT_FOUND', `job ${id} does not exist`);
    if (reply < 0) return false;
    this.lastProgressWrite.set(id, { at: nowMs, stage: progress.stage });
    return true;
  }

  /** Appends an event (XADD with MAXLEN retention + PUBLISH on the job's live channel). Returns its id. */
  async appendEvent(id: string, event: JobEventInput): Promise<number> {
    if (event.type === 'progress') {
      // Progress also updates the record; go through setProgress so that the two never disagree.
      await this.setProgress(id, event.data, { force: true });
      return this.lastEventId(id);
    }
    if (event.type === 'status_changed') throw new TypeError('status_changed events come from updateStatus, not appendEvent');
    if (event.type === 'artifact') return this.addArtifact(id, event.data);
    if (event.type === 'artifact_removed') return this.removeArtifact(id, event.data.name);
    const at = this.iso();
    const reply = Number(
      await appendEventScript.run(
        this.redis,
        [this.keys.job(id), this.keys.jobEvents(id)],
        [event.type, at, JSON.stringify(event.data), this.keys.jobLiveChannel(id), this.eventRetention, id, ''],
      ),
    );
    if (reply === 0) throw new HifiError('NOT_FOUND', `job ${id} does not exist`);
    return reply;
  }

  /** Records (or replaces, by name) an artifact the worker stored, and appends an `artifact` event. */
  async addArtifact(id: string, artifact: Artifact): Promise<number> {
    const reply = Number(
      await addArtifactScript.run(
        this.redis,
        [this.keys.job(id), this.keys.jobArtifacts(id), this.keys.jobEvents(id)],
        [artifact.name, JSON.stringify(artifact), this.iso(), this.keys.jobLiveChannel(id), this.eventRetention, id],
      ),
    );
    if (reply === 0) throw new HifiError('NOT_FOUND', `job ${id} does not exist`);
    return reply;
  }

  /**
   * Removes the record of an artifact (e.g. a checkpoint the trainer rotated out, after or before its object is
   * deleted from storage) and appends an `artifact_removed` event, in one atomic step. Returns the event id, or 0
   * when the job has no artifact of that name (nothing changes, no event).
   */
  async removeArtifact(id: string, name: string): Promise<number> {
    if (!isArtifactName(name)) throw new HifiError('INVALID_ARTIFACT_NAME', `artifact name ${JSON.stringify(name)} is not a flat name (letters, digits, _ . -)`, { param: 'name' });
    const reply = Number(
      await removeArtifactScript.run(
        this.redis,
        [this.keys.job(id), this.keys.jobArtifacts(id), this.keys.jobEvents(id)],
        [name, this.iso(), this.keys.jobLiveChannel(id), this.eventRetention, id, JSON.stringify({ name })],
      ),
    );
    if (reply === 0) throw new HifiError('NOT_FOUND', `job ${id} does not exist`);
    return Math.max(reply, 0);
  }

  /** The names of the job's recorded artifacts (any order; empty for a job without artifacts or no job). */
  async artifactNames(id: string): Promise<string[]> {
    return this.redis.hkeys(this.keys.jobArtifacts(id));
  }

  async lastEventId(id: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.job(id), 'eventSeq')) ?? 0);
  }

  /** Events with id > `after`, oldest first. Events older than the retention window are gone. */
  async readEvents(id: string, opts: { after?: number; limit?: number } = {}): Promise<JobEvent[]> {
    const after = Math.max(0, Math.floor(opts.after ?? 0));
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
    const start = after === 0 ? '-' : `(${after}-0`;
    const raw = await this.redis.xrange(this.keys.jobEvents(id), start, '+', 'COUNT', limit);
    return raw.map(([streamId, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return {
        id: Number(streamId.split('-')[0]),
        jobId: id,
        type: f.type,
        at: f.at,
        data: JSON.parse(f.data!),
      } as JobEvent;
    });
  }

  /**
   * Cancels a queued job at once; for a running job sets `cancelRequested` and publishes the id on the cancel
   * channel (the worker stops at its next check and moves the job to `cancelled`). Terminal jobs are unchanged.
   */
  async requestCancel(id: string, opts: { tenant?: string } = {}): Promise<CancelResult | null> {
    if (opts.tenant !== undefined && !(await this.get(id, { tenant: opts.tenant }))) return null;
    const reply = (await requestCancelScript.run(
      this.redis,
      [this.keys.job(id), this.keys.jobCountsByStatus, this.keys.jobEvents(id)],
      [this.iso(), this.keys.jobLiveChannel(id), this.eventRetention, id, this.keys.cancelChannel],
    )) as string[];
    const outcome = reply[0];
    if (outcome === 'missing') return null;
    const job = await this.get(id);
    if (!job) return null;
    if (outcome === 'cancelled' || outcome === 'requested' || outcome === 'terminal') return { outcome, job };
    throw new Error(`unexpected cancel outcome ${String(outcome)}`);
  }

  /** Whether a cancel was requested (cheap; for the worker's checks between batches). */
  async isCancelRequested(id: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.job(id), 'cancelRequested')) === '1';
  }

  /** Deletes the record, its events and artifacts list, and its index entries. Returns false if missing. */
  async delete(id: string, tenant: string): Promise<boolean> {
    const idemKey = await this.redis.hget(this.keys.job(id), 'idempotencyKey');
    const reply = await deleteJobScript.run(
      this.redis,
      [this.keys.job(id), this.keys.jobEvents(id), this.keys.jobArtifacts(id), this.keys.jobCountsByStatus, this.keys.tenantJobs(tenant), idemKey || this.keys.job(id)],
      [id, tenant],
    );
    this.lastProgressWrite.delete(id);
    return Number(reply) === 1;
  }

  /** How many jobs are in each status right now (all tenants). */
  async countByStatus(): Promise<Record<JobStatus, number>> {
    const raw = await this.redis.hgetall(this.keys.jobCountsByStatus);
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, Math.max(0, Number(raw[s] ?? 0))]));
    return counts as Record<JobStatus, number>;
  }
}
