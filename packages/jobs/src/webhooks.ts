// Webhooks on terminal states, the part both sides share. Whoever moves a job to succeeded, failed or cancelled
// (the worker after a run, the API when it cancels a queued job) calls `enqueueWebhook` once, right after the
// transition succeeded; the transition is atomic (JobStore), so only one caller ever makes it. The delivery
// goes on the BullMQ queue `webhooks` with the BullMQ job id `<jobId>.<status>`, so a repeat is a no-op, and the
// worker process consumes that queue: it checks the URL again (webhook-url-policy.ts), signs each attempt with
// HIFI_WEBHOOK_SECRET and owns the retry policy (attempts, backoff), so the API needs none of those settings.
//
// Each request carries
//   Content-Type: application/json
//   X-Hifi-Event: job.succeeded | job.failed | job.cancelled
//   X-Hifi-Delivery: <uuid>            the same on every retry of one delivery (receivers can deduplicate)
//   X-Hifi-Timestamp: <unix seconds>   when this attempt was sent
//   X-Hifi-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with HIFI_WEBHOOK_SECRET>
// and the body {id, type, createdAt, job}: the job as it was right after the transition.
import { createHmac, randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { JOB_ID_PATTERN } from './ids.ts';
import { redisKeys } from './redis-keys.ts';
import { StringEnum } from './string-enum.ts';
import type { Job } from './job-record.ts';
import type { JobStatus } from './job-status.ts';

export const WEBHOOK_QUEUE_NAME = 'webhooks';

export const WEBHOOK_EVENTS = ['job.succeeded', 'job.failed', 'job.cancelled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The webhook event of a status, or null for a status that sends none (every non-terminal one). */
export function webhookEventOf(status: JobStatus): WebhookEvent | null {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled' ? `job.${status}` : null;
}

/** The payload of a `deliver` job on the `webhooks` queue. */
export const WebhookDelivery = Type.Object(
  {
    deliveryId: Type.String({ minLength: 1, maxLength: 64 }),
    jobId: Type.String({ pattern: JOB_ID_PATTERN }),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    event: StringEnum(WEBHOOK_EVENTS),
    /** The exact bytes to send (and sign). */
    body: Type.String(),
  },
  { additionalProperties: false },
);
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WEBHOOK_HEADERS = {
  event: 'x-hifi-event',
  delivery: 'x-hifi-delivery',
  timestamp: 'x-hifi-timestamp',
  signature: 'x-hifi-signature',
} as const;

/**
 * BullMQ options of a delivery. Retries are the consumer's to decide: `attempts` is only a ceiling (the worker
 * stops earlier, at HIFI_WEBHOOK_ATTEMPTS) and the backoff type is the consumer's custom strategy.
 */
export const WEBHOOK_JOB_OPTIONS = {
  attempts: 100,
  backoff: { type: 'webhook' },
  removeOnComplete: { age: 86_400, count: 10_000 },
  removeOnFail: { age: 7 * 86_400 },
} as const satisfies JobsOptions;

/** `sha256=<hex>`: HMAC-SHA256 of the raw body keyed with the secret (the X-Hifi-Signature value). */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The headers of one delivery attempt; without a secret there is no signature header. */
export function webhookRequestHeaders(delivery: WebhookDelivery, secret: string | null, now: Date = new Date()): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'hifi-webhooks/1',
    [WEBHOOK_HEADERS.event]: delivery.event,
    [WEBHOOK_HEADERS.delivery]: delivery.deliveryId,
    [WEBHOOK_HEADERS.timestamp]: String(Math.floor(now.getTime() / 1000)),
  };
  if (secret !== null) headers[WEBHOOK_HEADERS.signature] = signWebhookBody(secret, delivery.body);
  return headers;
}

export type WebhookQueue = Queue<WebhookDelivery, void, 'deliver'>;

/** Opens the `webhooks` queue. BullMQ keys live under `${prefix}:bull` (redis-keys.ts). */
export function openWebhookQueue(connection: ConnectionOptions, prefix?: string): WebhookQueue {
  return new Queue<WebhookDelivery, void, 'deliver'>(WEBHOOK_QUEUE_NAME, { connection, prefix: redisKeys(prefix).bullPrefix });
}

/** The delivery of a job's terminal state, or null when there is nothing to send (no webhookUrl, not terminal). */
export function webhookDeliveryOf(job: Job, now: Date = new Date()): WebhookDelivery | null {
  const event = webhookEventOf(job.status);
  const url = job.spec.webhookUrl;
  if (event === null || !url) return null;
  const deliveryId = randomUUID();
  const body = JSON.stringify({ id: deliveryId, type: event, createdAt: now.toISOString(), job });
  return { deliveryId, jobId: job.id, url, event, body };
}

/**
 * Queues the terminal-state webhook of `job` (the record read right after the transition). Returns false when
 * there is nothing to send. Queued once per job and status: a second call finds the BullMQ job id taken.
 */
export async function enqueueWebhook(queue: WebhookQueue, job: Job): Promise<boolean> {
  const delivery = webhookDeliveryOf(job);
  if (delivery === null) return false;
  await queue.add('deliver', delivery, { ...WEBHOOK_JOB_OPTIONS, backoff: { ...WEBHOOK_JOB_OPTIONS.backoff }, jobId: `${job.id}.${job.status}` });
  return true;
}
