// Webhook delivery: the consumer of the `webhooks` queue. Deliveries are queued by whoever moved a job to a
// terminal state (this worker, or the API when it cancels a queued job) with `enqueueWebhook` from @hifi/jobs,
// which also defines the payload and the headers. This side sends them and owns the retry policy:
//   - the URL is checked again (webhook-url-policy.ts in @hifi/jobs) and the host name is resolved through
//     `guardedLookup`, so a name that resolves to a loopback, private, link-local, CGNAT or unique-local address
//     is refused (unless HIFI_WEBHOOK_ALLOW_PRIVATE); a refusal is final, not retried;
//   - each attempt is signed with HIFI_WEBHOOK_SECRET and carries the current timestamp;
//   - 2xx is delivered; network errors, timeouts, 408, 429 and 5xx are retried up to HIFI_WEBHOOK_ATTEMPTS
//     attempts, the delay doubling from HIFI_WEBHOOK_BACKOFF_MS; any other status is final;
//   - a delivery that ends without success is recorded on the job as a `log` event (level warn).
// Redirects are not followed (a 3xx is a final answer).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { UnrecoverableError, Worker, type ConnectionOptions, type Job as BullJob } from 'bullmq';
import type { Logger } from 'pino';
import {
  check,
  checkWebhookUrl,
  guardedLookup,
  redisKeys,
  WEBHOOK_QUEUE_NAME,
  WebhookAddressRefusedError,
  WebhookDelivery,
  webhookRequestHeaders,
  type JobStore,
  type ResolveHost,
} from '@hifi/jobs';
import { describeError } from './job-errors.ts';

export interface WebhookSettings {
  /** HMAC key of X-Hifi-Signature; null sends deliveries unsigned. */
  secret: string | null;
  /** Attempts per delivery, the first included. */
  attempts: number;
  /** Delay before the first retry; doubles each time. */
  backoffMs: number;
  timeoutMs: number;
  /** Allow hosts that are or resolve to loopback, private, link-local, CGNAT or unique-local addresses. */
  allowPrivate: boolean;
  /** Host name resolution; default the system's (dns.lookup). Tests stand in a DNS answer here. */
  resolveHost?: ResolveHost;
}

/** The receiver's URL is not allowed (scheme, address): final, not retried. */
export class WebhookRefusedError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookRefusedError';
  }
}

const isRetryableStatus = (status: number) => status >= 500 || status === 408 || status === 429;

/** One POST; resolves with the response status. The response body is read and dropped. */
function post(url: URL, headers: Record<string, string>, body: string, opts: { timeoutMs: number; lookup: LookupFunction }): Promise<number> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: opts.lookup,
        // A fresh connection per delivery: no pooled socket to a host whose address was checked earlier.
        agent: false,
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        res.on('error', () => {});
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends one attempt of a delivery. Resolves with the 2xx status; throws a WebhookRefusedError when the URL is
 * not allowed, an UnrecoverableError when the receiver refused it (not retried), an ordinary Error otherwise.
 */
export async function deliverWebhook(delivery: WebhookDelivery, settings: WebhookSettings): Promise<number> {
  const policy = { allowPrivate: settings.allowPrivate };
  const checked = checkWebhookUrl(delivery.url, policy);
  if (!checked.ok) throw new WebhookRefusedError(`webhook ${delivery.url} refused: ${checked.reason}`);
  let status: number;
  try {
    status = await post(checked.url, webhookRequestHeaders(delivery, settings.secret), delivery.body, { timeoutMs: settings.timeoutMs, lookup: guardedLookup(policy, settings.resolveHost) });
  } catch (err) {
    if (err instanceof WebhookAddressRefusedError) throw new WebhookRefusedError(`webhook ${delivery.url} refused: ${err.message}`);
    throw new Error(`webhook ${delivery.url}: ${describeError(err)}`, { cause: err });
  }
  if (status >= 200 && status < 300) return status;
  const message = `webhook ${delivery.url} answered ${status}`;
  if (isRetryableStatus(status)) throw new Error(message);
  throw new UnrecoverableError(`${message} (not retried)`);
}

/** Delay before retry number `attemptsMade` (1 = the first retry): backoffMs, 2·backoffMs, 4·backoffMs, … */
export function webhookRetryDelay(attemptsMade: number, backoffMs: number): number {
  return Math.round(2 ** Math.max(0, attemptsMade - 1) * backoffMs);
}

export interface WebhookWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  settings: WebhookSettings;
  /** Where a delivery that ends without success is recorded (a `log` event on the job). */
  jobs: JobStore;
  logger: Logger;
  concurrency?: number;
}

export function startWebhookWorker(opts: WebhookWorkerOptions): Worker<WebhookDelivery, void, 'deliver'> {
  const { settings, jobs, logger } = opts;
  const record = async (delivery: WebhookDelivery, reason: string): Promise<void> => {
    const message = `${delivery.event} webhook not delivered: ${reason}`;
    // The job may be gone (deleted right after a cancel): nothing to record on.
    await jobs.appendEvent(delivery.jobId, { type: 'log', data: { level: 'warn', message } }).catch(() => {});
  };
  const worker = new Worker<WebhookDelivery, void, 'deliver'>(
    WEBHOOK_QUEUE_NAME,
    async (job: BullJob<WebhookDelivery, void, 'deliver'>) => {
      const payload = check(WebhookDelivery, job.data);
      if (!payload.ok) throw new UnrecoverableError(`unreadable webhook delivery: ${payload.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`);
      const delivery = payload.value;
      const attempt = job.attemptsMade + 1;
      const log = logger.child({ jobId: delivery.jobId, deliveryId: delivery.deliveryId, attempt });
      try {
        const status = await deliverWebhook(delivery, settings);
        log.info({ url: delivery.url, status }, `webhook ${delivery.event} delivered`);
      } catch (err) {
        const last = attempt >= Math.min(settings.attempts, job.opts.attempts ?? 1);
        if (!(err instanceof UnrecoverableError) && !last) throw err;
        const reason = err instanceof UnrecoverableError ? (err as Error).message : `${describeError(err)} (gave up after ${attempt} attempts)`;
        await record(delivery, reason);
        throw err instanceof UnrecoverableError ? err : new UnrecoverableError(reason);
      }
    },
    {
      connection: opts.connection,
      prefix: redisKeys(opts.prefix).bullPrefix,
      concurrency: opts.concurrency ?? 4,
      // The `webhook` backoff type of WEBHOOK_JOB_OPTIONS (older deliveries carry a built-in type).
      settings: { backoffStrategy: (attemptsMade: number) => webhookRetryDelay(attemptsMade, settings.backoffMs) },
    },
  );
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || job.attemptsMade >= Math.min(settings.attempts, job.opts.attempts ?? 1);
    logger.warn(
      { jobId: job.data.jobId, deliveryId: job.data.deliveryId, attempt: job.attemptsMade, final, err: err.message },
      final ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry',
    );
  });
  worker.on('error', (err) => logger.warn({ err: err.message }, 'webhook worker error'));
  return worker;
}
