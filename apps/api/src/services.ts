// What the routes need, built once per app: Redis, the job and dataset stores, object storage, the BullMQ
// queues (opened on first use) and the pub/sub subscriber (opened on first use).
import type { Redis } from 'ioredis';
import { DatasetStore, JobStore, JobSubscriber, openQueue, QUEUE_KINDS, type FinetuneQueue, type QueueKind } from '@hifi/jobs';
import type { ObjectStore } from '@hifi/storage';
import type { ApiConfig } from './config.ts';

export class Services {
  readonly jobs: JobStore;
  readonly datasets: DatasetStore;
  private readonly queues = new Map<QueueKind, FinetuneQueue>();
  private subscriberInstance: JobSubscriber | null = null;

  constructor(
    readonly config: ApiConfig,
    readonly redis: Redis,
    readonly objects: ObjectStore,
    /** sha256 of an API key → tenant. */
    readonly apiKeyHashes: ReadonlyMap<string, string>,
  ) {
    this.jobs = new JobStore({ redis, prefix: config.redisPrefix });
    this.datasets = new DatasetStore({ redis, prefix: config.redisPrefix });
  }

  get keys() {
    return this.jobs.keys;
  }

  queue(kind: QueueKind): FinetuneQueue {
    let q = this.queues.get(kind);
    if (!q) {
      q = openQueue(kind, this.redis, this.config.redisPrefix);
      // Connection errors surface through readyz and the failing request; do not crash on the emitter.
      q.on('error', () => {});
      this.queues.set(kind, q);
    }
    return q;
  }

  allQueues(): { kind: QueueKind; queue: FinetuneQueue }[] {
    return QUEUE_KINDS.map((kind) => ({ kind, queue: this.queue(kind) }));
  }

  get subscriber(): JobSubscriber {
    this.subscriberInstance ??= new JobSubscriber({ connection: this.redis, prefix: this.config.redisPrefix });
    return this.subscriberInstance;
  }

  /** Closes what the services opened (queues, subscriber); the Redis client and the store belong to the caller. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    if (this.subscriberInstance) await this.subscriberInstance.close();
    this.subscriberInstance = null;
  }
}
