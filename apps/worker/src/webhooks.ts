// Webhooks on terminal states. When a job ends (succeeded, failed, cancelled) and has a webhookUrl, a delivery is
// put on the BullMQ queue `webhooks` (one per job and state: the BullMQ job id is `<jobId>.<status>`, so a repeat
// is a no-op); a Worker on that queue POSTs it, retried with exponential backoff.
//
// Each request carries
//   Content-Type: application/json
//   X-Hifi-Event: job.succeeded | job.failed | job.cancelled
//   X-Hifi-Delivery: <uuid>            the same on every retry of one delivery (receivers can deduplicate)
//   X-Hifi-Timestamp: <unix seconds>   when this attempt was sent
//   X-Hifi-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with HIFI_WEBHOOK_SECRET>
// and the body {id, type, createdAt, job}. 2xx is delivered; network errors, timeouts, 408, 429 and 5xx are
// retried; any other status is final (the receiver refused it).
import { createHmac, randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job as BullJob } from 'bullmq';
import type { Logger } from 'pino';
import { redisKeys, type Job } from '@hifi/jobs';

export const WEBHOOK_QUEUE_NAME = 'webhooks';

export interface WebhookDelivery {
  deliveryId: string;
  jobId: string;
  url: string;
  event: string;
  /** The exact bytes to send (and sign). */
  body: string;
}

export interface WebhookSettings {
  secret: string | null;
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export type WebhookQueue = Queue<WebhookDelivery, void, 'deliver'>;

export function openWebhookQueue(connection: ConnectionOptions, prefix: string): WebhookQueue {
  return new Queue<WebhookDelivery, void, 'deliver'>(WEBHOOK_QUEUE_NAME, { connection, prefix: redisKeys(prefix).bullPrefix });
}

/** Queues the terminal-state webhook of `job` (no-op without a webhookUrl or for a non-terminal job). */
export async function enqueueWebhook(queue: WebhookQueue, job: Job, settings: WebhookSettings): Promise<boolean> {
  const url = job.spec.webhookUrl;
  if (!url || !['succeeded', 'failed', 'cancelled'].includes(job.status)) return false;
  const deliveryId = randomUUID();
  const event = `job.${job.status}`;
  const body = JSON.stringify({ id: deliveryId, type: event, createdAt: new Date().toISOString(), job });
  await queue.add(
    'deliver',
    { deliveryId, jobId: job.id, url, event, body },
    {
      jobId: `${job.id}.${job.status}`,
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    },
  );
  return true;
}

const RETRYABLE_STATUS = (status: number) => status >= 500 || status === 408 || status === 429;

/** Sends one delivery; throws to have BullMQ retry, UnrecoverableError when the receiver refused it. */
export async function deliverWebhook(delivery: WebhookDelivery, settings: WebhookSettings, fetchImpl: typeof fetch = fetch): Promise<number> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'hifi-worker-webhooks/1',
    'x-hifi-event': delivery.event,
    'x-hifi-delivery': delivery.deliveryId,
    'x-hifi-timestamp': String(Math.floor(Date.now() / 1000)),
  };
  if (settings.secret !== null) headers['x-hifi-signature'] = signWebhookBody(settings.secret, delivery.body);
  let response: Response;
  try {
    response = await fetchImpl(delivery.url, { method: 'POST', headers, body: delivery.body, redirect: 'manual', signal: AbortSignal.timeout(settings.timeoutMs) });
  } catch (err) {
    throw new Error(`webhook ${delivery.url}: ${(err as Error).message}`, { cause: err });
  }
  await response.body?.cancel().catch(() => {});
  if (response.status >= 200 && response.status < 300) return response.status;
  const message = `webhook ${delivery.url} answered ${response.status}`;
  if (RETRYABLE_STATUS(response.status)) throw new Error(message);
  throw new UnrecoverableError(`${message} (not retried)`);
}

export function startWebhookWorker(opts: { connection: ConnectionOptions; prefix: string; settings: WebhookSettings; logger: Logger; concurrency?: number }): Worker<WebhookDelivery, void, 'deliver'> {
  const worker = new Worker<WebhookDelivery, void, 'deliver'>(
    WEBHOOK_QUEUE_NAME,
    async (job: BullJob<WebhookDelivery, void, 'deliver'>) => {
      const log = opts.logger.child({ jobId: job.data.jobId, deliveryId: job.data.deliveryId });
      const status = await deliverWebhook(job.data, opts.settings);
      log.info({ url: job.data.url, status, attempt: job.attemptsMade + 1 }, `webhook ${job.data.event} delivered`);
    },
    { connection: opts.connection, prefix: redisKeys(opts.prefix).bullPrefix, concurrency: opts.concurrency ?? 4 },
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    opts.logger.warn({ jobId: job.data.jobId, deliveryId: job.data.deliveryId, attempt: job.attemptsMade, final, err: err.message }, final ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
  });
  worker.on('error', (err) => opts.logger.warn({ err: err.message }, 'webhook worker error'));
  return worker;
}
