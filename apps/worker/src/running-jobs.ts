// The jobs this process is running, each with the AbortController that stops it. Why a job is stopped decides
// what happens next: `cancel` → cancelled; `shutdown` → checkpoint and back to the queue; `timeout` → failed;
// `lock-lost` → stop quietly (BullMQ gave the job to another worker).
export type StopReason = 'cancel' | 'shutdown' | 'timeout' | 'lock-lost';

export class JobStop extends Error {
  constructor(readonly reason: StopReason) {
    super(`job stopped: ${reason}`);
    this.name = 'JobStop';
  }
}

export function stopReasonOf(signal: AbortSignal): StopReason | null {
  if (!signal.aborted) return null;
  return signal.reason instanceof JobStop ? signal.reason.reason : 'cancel';
}

export class RunningJobs {
  private readonly controllers = new Map<string, AbortController>();

  /** Registers a job; the returned controller is aborted by `stop`. */
  start(jobId: string): AbortController {
    const controller = new AbortController();
    this.controllers.set(jobId, controller);
    return controller;
  }

  finish(jobId: string, controller: AbortController): void {
    if (this.controllers.get(jobId) === controller) this.controllers.delete(jobId);
  }

  /** Stops one job if it runs here; returns whether it did. The first reason wins. */
  stop(jobId: string, reason: StopReason): boolean {
    const controller = this.controllers.get(jobId);
    if (!controller) return false;
    if (!controller.signal.aborted) controller.abort(new JobStop(reason));
    return true;
  }

  stopAll(reason: StopReason): number {
    for (const id of this.controllers.keys()) this.stop(id, reason);
    return this.controllers.size;
  }

  ids(): string[] {
    return [...this.controllers.keys()];
  }

  get size(): number {
    return this.controllers.size;
  }
}
