import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Job, JobEvent } from '@hifi/jobs';
import { jobBody, readSse, startApi, type TestApi } from './test-support.ts';

let api: TestApi;
before(async () => {
  api = await startApi({ HIFI_SSE_HEARTBEAT_SECONDS: '1' });
});
after(async () => {
  await api.close();
});

async function newJob(): Promise<Job> {
  const res = await api.call('/v1/jobs', { method: 'POST', json: jobBody() });
  assert.equal(res.status, 202);
  return (await res.json()) as Job;
}

/** What a worker does, through the same JobStore. */
async function simulateWorker(job: Job, opts: { finish: boolean }): Promise<void> {
  await api.jobs.updateStatus(job.id, 'analyzing');
  await api.jobs.appendEvent(job.id, { type: 'log', data: { level: 'info', message: 'analysing 256 examples' } });
  await api.jobs.updateStatus(job.id, 'training');
  await api.jobs.setProgress(job.id, { stage: 'training', step: 10, totalSteps: 100, epoch: 0.1, metrics: { loss: 0.7 }, etaSeconds: 90 }, { force: true });
  await api.jobs.appendEvent(job.id, { type: 'metrics', data: { split: 'eval', step: 10, epoch: 0.1, values: { accuracy: 0.61 } } });
  if (!opts.finish) return;
  await api.jobs.updateStatus(job.id, 'evaluating');
  await api.jobs.updateStatus(job.id, 'exporting');
  await api.jobs.updateStatus(job.id, 'succeeded');
}

test('GET /events pages with the ?after= cursor; ids increase by one', async () => {
  const job = await newJob();
  await simulateWorker(job, { finish: true });
  const first = (await (await api.call(`/v1/jobs/${job.id}/events?limit=4`)).json()) as { items: JobEvent[]; nextAfter: number; done: boolean };
  assert.deepEqual(first.items.map((e) => e.id), [1, 2, 3, 4]);
  assert.deepEqual(first.items.map((e) => e.type), ['status_changed', 'status_changed', 'log', 'status_changed']);
  assert.equal(first.nextAfter, 4);
  assert.equal(first.done, false);
  const rest = (await (await api.call(`/v1/jobs/${job.id}/events?after=${first.nextAfter}`)).json()) as { items: JobEvent[]; nextAfter: number; done: boolean };
  assert.deepEqual(rest.items.map((e) => e.id), [5, 6, 7, 8, 9]);
  assert.deepEqual(rest.items.map((e) => e.type), ['progress', 'metrics', 'status_changed', 'status_changed', 'status_changed']);
  assert.equal(rest.done, true);
  const progress = rest.items[0]!;
  assert.equal(progress.type, 'progress');
  if (progress.type === 'progress') assert.equal(progress.data.step, 10);
  const bad = await api.call(`/v1/jobs/${job.id}/events?after=-1`);
  assert.equal(bad.status, 400);
});

test('SSE: backlog then live events in order with id lines; closes after the terminal event; resumes with Last-Event-ID', async () => {
  const job = await newJob();
  await api.jobs.updateStatus(job.id, 'analyzing');
  const res = await api.call(`/v1/jobs/${job.id}/events/stream`, { headers: { accept: 'text/event-stream' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reading = readSse(res);
  // Live events appended while the client is connected.
  await new Promise((r) => setTimeout(r, 50));
  await simulateWorker(job, { finish: false }); // its first step (analyzing) is a no-op: already there
  await api.jobs.appendEvent(job.id, { type: 'log', data: { level: 'warn', message: 'late log' } });
  await api.jobs.updateStatus(job.id, 'evaluating');
  await api.jobs.updateStatus(job.id, 'exporting');
  await api.jobs.updateStatus(job.id, 'succeeded');
  const events = await reading;
  const ids = events.map((e) => e.id);
  assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), 'every event once, in order');
  assert.equal(events.at(-1)!.event, 'status_changed');
  assert.deepEqual((events.at(-1)!.data as JobEvent).data, { from: 'exporting', to: 'succeeded' });
  for (const e of events) assert.equal((e.data as JobEvent).id, e.id, 'the id line matches the event id');

  // Resume after event 3: the rest, then the stream ends again.
  const resumed = await api.call(`/v1/jobs/${job.id}/events/stream`, { headers: { 'last-event-id': '3' } });
  const tail = await readSse(resumed);
  assert.deepEqual(tail.map((e) => e.id), ids.slice(3));

  // Resuming after the last event of a finished job ends at once with nothing.
  const done = await api.call(`/v1/jobs/${job.id}/events/stream`, { headers: { 'last-event-id': String(ids.at(-1)) } });
  assert.deepEqual(await readSse(done), []);

  const bad = await api.call(`/v1/jobs/${job.id}/events/stream`, { headers: { 'last-event-id': 'abc' } });
  assert.equal(bad.status, 400);
  assert.equal((await api.call(`/v1/jobs/${job.id}/events/stream`, { auth: 'beta' })).status, 404);
});

test('SSE sends heartbeat comments while idle; closing the server ends open streams', async () => {
  const own = await startApi({ HIFI_SSE_HEARTBEAT_SECONDS: '1' });
  const job = (await (await own.call('/v1/jobs', { method: 'POST', json: jobBody() })).json()) as Job;
  const res = await own.call(`/v1/jobs/${job.id}/events/stream`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 3000;
  while (!text.includes(': heartbeat') && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  assert.match(text, /id: 1\nevent: status_changed\n/);
  assert.match(text, /: heartbeat\n\n/);
  const started = Date.now();
  await own.close();
  assert.ok(Date.now() - started < 2000, 'close does not wait for the stream');
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
});
