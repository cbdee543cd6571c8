// DatasetStore: dataset records in Redis (the files themselves are in object storage).
import type { Redis } from 'ioredis';
import { redisKeys, type RedisKeys } from './redis-keys.ts';
import type { Dataset } from './dataset.ts';

export class DatasetStore {
  readonly keys: RedisKeys;
  private readonly redis: Redis;

  constructor(opts: { redis: Redis; prefix?: string }) {
    this.redis = opts.redis;
    this.keys = redisKeys(opts.prefix);
  }

  async create(dataset: Dataset): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.dataset(dataset.id), { tenant: dataset.tenant, record: JSON.stringify(dataset) })
      .zadd(this.keys.tenantDatasets(dataset.tenant), 0, dataset.id)
      .exec();
  }

  /** The dataset, or null when missing or owned by another tenant (when `tenant` is given). */
  async get(id: string, opts: { tenant?: string } = {}): Promise<Dataset | null> {
    const [tenant, record] = await this.redis.hmget(this.keys.dataset(id), 'tenant', 'record');
    if (!record || (opts.tenant !== undefined && tenant !== opts.tenant)) return null;
    return JSON.parse(record) as Dataset;
  }

  async delete(id: string, tenant: string): Promise<boolean> {
    if (!(await this.get(id, { tenant }))) return false;
    await this.redis.multi().del(this.keys.dataset(id)).zrem(this.keys.tenantDatasets(tenant), id).exec();
    return true;
  }
}
