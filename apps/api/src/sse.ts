// One Server-Sent Events session over a job's events. It subscribes to the job's live channel first, then reads
// the stream from the client's position, so nothing falls between backlog and live; every notification just
// triggers another read after the last id sent, so events go out once each, in order, with `id:` = event id.
// Heartbeat comments keep proxies from closing an idle stream; the session ends after a terminal status event.
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { isTerminal, isTerminalStatusEvent, type JobStore, type JobSubscriber } from '@hifi/jobs';

const PAGE = 500;

export class JobEventStream {
  private last: number;
  private busy = false;
  private again = false;
  private closed = false;
  private unsubscribe: (() => Promise<void>) | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly onClosed: Array<() => void> = [];

  constructor(
    private readonly raw: ServerResponse,
    private readonly jobs: JobStore,
    private readonly jobId: string,
    after: number,
    private readonly log: FastifyBaseLogger,
  ) {
    this.last = after;
  }

  /** Registers a callback for when the session ends (client gone, terminal event, server closing). */
  whenClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.onClosed.push(fn);
  }

  async start(subscriber: JobSubscriber, heartbeatMs: number): Promise<void> {
    this.raw.on('close', () => this.close());
    this.write('retry: 3000\n\n');
    this.unsubscribe = await subscriber.onJobEvents(this.jobId, () => void this.pump());
    if (this.closed) return this.release();
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), heartbeatMs);
    await this.pump();
    if (this.closed) return;
    // A finished job whose terminal event came before the client's position (a resumed stream) ends here.
    const job = await this.jobs.get(this.jobId);
    if (!job || (isTerminal(job.status) && job.lastEventId <= this.last)) this.close();
  }

  private write(chunk: string): void {
    if (!this.closed && !this.raw.writableEnded) this.raw.write(chunk);
  }

  private async pump(): Promise<void> {
    if (this.closed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const events = await this.jobs.readEvents(this.jobId, { after: this.last, limit: PAGE });
          for (const event of events) {
            this.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
            this.last = event.id;
            if (isTerminalStatusEvent(event)) {
              this.close();
              return;
            }
          }
          if (events.length < PAGE || this.closed) break;
        }
      } while (this.again && !this.closed);
    } catch (err) {
      this.log.warn({ err, jobId: this.jobId }, 'SSE stream failed; closing it');
      this.close();
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.raw.writableEnded) this.raw.end();
    this.release();
    for (const fn of this.onClosed.splice(0)) fn();
  }

  private release(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const off = this.unsubscribe;
    this.unsubscribe = null;
    if (off) void off();
  }
}
