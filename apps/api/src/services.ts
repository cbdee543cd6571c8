// What the routes need, built once per app: Redis, the job and dataset stores, object storage, the BullMQ
// queues (opened on first use), the webhooks queue (opened on first use) and the pub/sub subscriber (opened on
// first use).
import type { Redis } from 'ioredis';
import {
  DatasetStore,
  enqueueWebhook,
  JobStore,
  JobSubscriber,
  openQueue,
  openWebhookQueue,
  QUEUE_KINDS,
  type FinetuneQueue,
  type Job,
  type QueueKind,
  type WebhookQueue,
} from '@hifi/jobs';
import type { ObjectStore } from '@hifi/storage';
import type { ApiConfig } from './config.ts';

export class Services {
  readonly jobs: JobStore;
  readonly datasets: DatasetStore;
  private readonly queues = new Map<QueueKind, FinetuneQueue>();
  private subscriberInstance: JobSubscriber | null = null;
  private webhookQueueInstance: WebhookQueue | null = null;

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

  /**
   * Queues the webhook of a job this API moved to a terminal state itself (a cancel while queued, a job that
   * could not be queued); the worker process delivers it. `job` is the record read after the transition.
   * Returns false when the job has no webhookUrl.
   */
  queueTerminalWebhook(job: Job): Promise<boolean> {
    if (!this.webhookQueueInstance) {
      this.webhookQueueInstance = openWebhookQueue(this.redis, this.config.redisPrefix);
      this.webhookQueueInstance.on('error', () => {});
    }
    return enqueueWebhook(this.webhookQueueInstance, job);
  }

  get subscriber(): JobSubscriber {
    this.subscriberInstance ??= new JobSubscriber({ connection: this.redis, prefix: this.config.redisPrefix });
    return this.subscriberInstance;
  }

  /** Closes what the services opened (queues, subscriber); the Redis client and the store belong to the caller. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values(), ...(this.webhookQueueInstance ? [this.webhookQueueInstance] : [])].map((q) => q.close()));
    this.queues.clear();
    this.webhookQueueInstance = null;
    if (this.subscriberInstance) await this.subscriberInstance.close();
    this.subscriberInstance = null;
  }
}
