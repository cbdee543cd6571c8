// Live notifications over Redis pub/sub on one dedicated connection: a job's events (for SSE) and the cancel
// channel (for the worker). Subscriptions are reference-counted per channel.
import type { Redis } from 'ioredis';
import { redisKeys, type RedisKeys } from './redis-keys.ts';
import type { JobEvent } from './job-event.ts';

type Listener = (message: string) => void;

export class JobSubscriber {
  readonly keys: RedisKeys;
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<Listener>>();

  /** `connection` is duplicated: a subscribed connection cannot run other commands. */
  constructor(opts: { connection: Redis; prefix?: string }) {
    this.keys = redisKeys(opts.prefix);
    this.sub = opts.connection.duplicate();
    this.sub.on('message', (channel: string, message: string) => {
      for (const l of this.listeners.get(channel) ?? []) l(message);
    });
    // Errors surface on the owner's connection checks (readyz); keep this one from crashing the process.
    this.sub.on('error', () => {});
  }

  private async add(channel: string, listener: Listener): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.sub.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      const current = this.listeners.get(channel);
      if (!current || !current.delete(listener) || current.size > 0) return;
      this.listeners.delete(channel);
      await this.sub.unsubscribe(channel).catch(() => {});
    };
  }

  /** Calls `listener` with every event appended to the job from now on. Resolves once subscribed. */
  onJobEvents(jobId: string, listener: (event: JobEvent) => void): Promise<() => Promise<void>> {
    return this.add(this.keys.jobLiveChannel(jobId), (m) => listener(JSON.parse(m) as JobEvent));
  }

  /** Calls `listener` with the id of every job whose cancellation is requested while it runs. */
  onCancel(listener: (jobId: string) => void): Promise<() => Promise<void>> {
    return this.add(this.keys.cancelChannel, listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.sub.quit().catch(() => this.sub.disconnect());
  }
}
