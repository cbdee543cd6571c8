// End to end, the happy path: POST a job on tiny-bert with a small SST-2 subset, watch its events over SSE until
// it succeeds, download its artifacts over HTTP and check that they agree with each other: the head report's
// selected heads = the head mask = the heads in heads.safetensors, and the merged model's logits = the base model
// with the adapter applied (the trainer's applyAdapter, both loaded by the engine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, loadPretrained } from '@hifi/engine';
import type { Job, JobEvent } from '@hifi/jobs';
import { applyAdapter, parseAdapterSliceKey } from '@hifi/trainer';
import { E2E, TINY_BERT, tinyJob } from './helpers/e2e.ts';

let e2e: E2E;
before(async () => {
  e2e = await E2E.start();
  await e2e.startWorker();
});
after(() => e2e.close());

const pairs = (heads: [number, number][]) => heads.map(([l, h]) => `${l}.${h}`).sort();

test('a tiny-bert job goes from POST to succeeded; events arrive over SSE in order; artifacts are consistent', async () => {
  const submitted = await e2e.submit(tinyJob());
  assert.equal(submitted.status, 'queued');
  const events = await e2e.streamEvents(submitted.id);

  // Ids increase by one, from the first event on; statuses follow the life cycle.
  assert.deepEqual(events.map((e) => e.id), events.map((_, i) => i + 1));
  const statuses = events.flatMap((e) => (e.type === 'status_changed' ? [e.data.to] : []));
  assert.deepEqual(statuses, ['queued', 'analyzing', 'training', 'evaluating', 'exporting', 'succeeded']);
  const types = new Set(events.map((e) => e.type));
  for (const t of ['progress', 'metrics', 'artifact', 'log'] as const) assert.ok(types.has(t), `an event of type ${t}`);
  const evalMetrics = events.filter((e): e is Extract<JobEvent, { type: 'metrics' }> => e.type === 'metrics' && e.data.split === 'eval');
  assert.ok(evalMetrics.length >= 1 && typeof evalMetrics.at(-1)!.data.values.accuracy === 'number');

  const job = await e2e.getJob(submitted.id);
  assert.equal(job.status, 'succeeded');
  assert.equal(job.error, null);
  assert.equal(job.lastEventId, events.at(-1)!.id);
  const names = job.artifacts.map((a) => a.name);
  for (const n of ['heads.json', 'head_mask.json', 'heads.svg', 'graph.gexf', 'metrics.json', 'heads.safetensors', 'adapter_config.json', 'merged-config.json', 'merged-model.safetensors']) {
    assert.ok(names.includes(n), `artifact ${n} in ${names.join(', ')}`);
  }

  // The head report, the mask and the adapter name the same heads.
  const report = JSON.parse((await e2e.download(job.id, 'heads.json')).toString()) as { selection: { selected: [number, number][] } };
  const mask = JSON.parse((await e2e.download(job.id, 'head_mask.json')).toString()) as { mask: number[][]; selected: [number, number][] };
  const selected = pairs(report.selection.selected);
  assert.equal(selected.length, 4, 'perLayer 2 on 2 layers');
  assert.deepEqual(pairs(mask.selected), selected);
  const fromMask: [number, number][] = [];
  mask.mask.forEach((row, l) => row.forEach((v, h) => v === 1 && fromMask.push([l, h])));
  assert.deepEqual(pairs(fromMask), selected);
  const adapterBytes = await e2e.download(job.id, 'heads.safetensors');
  const adapterTensors = decodeSafetensors(new Uint8Array(adapterBytes), 'heads.safetensors').tensors;
  const adapterHeads = new Set<string>();
  for (const key of adapterTensors.keys()) {
    const slice = parseAdapterSliceKey(key);
    if (slice) adapterHeads.add(`${slice.layer}.${slice.head}`);
  }
  assert.deepEqual([...adapterHeads].sort(), selected);
  const adapterConfig = JSON.parse((await e2e.download(job.id, 'adapter_config.json')).toString()) as { heads: [number, number][] };
  assert.deepEqual(pairs(adapterConfig.heads), selected);

  // The final metrics report has the API's shape.
  const metrics = JSON.parse((await e2e.download(job.id, 'metrics.json')).toString()) as { final: boolean; latest: { eval: Record<string, number> } };
  assert.equal(metrics.final, true);
  assert.equal(typeof metrics.latest.eval.accuracy, 'number');

  await checkMergedEqualsBasePlusAdapter(job, adapterBytes);
});

async function checkMergedEqualsBasePlusAdapter(job: Job, adapterBytes: Buffer): Promise<void> {
  const dir = join(e2e.dir, 'check');
  const adapterDir = join(dir, 'adapter');
  const mergedDir = join(dir, 'merged');
  await mkdir(adapterDir, { recursive: true });
  await mkdir(mergedDir, { recursive: true });
  await writeFile(join(adapterDir, 'heads.safetensors'), adapterBytes);
  await writeFile(join(adapterDir, 'adapter_config.json'), await e2e.download(job.id, 'adapter_config.json'));
  for (const a of job.artifacts.filter((x) => x.name.startsWith('merged-'))) {
    await writeFile(join(mergedDir, a.name.slice('merged-'.length)), await e2e.download(job.id, a.name));
  }
  const appliedDir = join(dir, 'applied');
  await applyAdapter(TINY_BERT, adapterDir, appliedDir);

  const downloaded = await loadPretrained(mergedDir);
  const applied = await loadPretrained(appliedDir);
  const base = await loadPretrained(TINY_BERT, { numLabels: 2 });
  try {
    const texts = [{ text: 'a gripping , beautifully acted film' }, { text: 'dull and far too long .' }, { text: 'it is what it is' }];
    const batch = downloaded.tokenizer.encodeBatch(texts, { maxLength: 32 });
    const logits = (p: typeof downloaded) => {
      const t = tf.tidy(() => p.model.forward(batch).logits!);
      const v = t.dataSync();
      t.dispose();
      return Float32Array.from(v);
    };
    const a = logits(downloaded);
    const b = logits(applied);
    const c = logits(base);
    assert.equal(a.length, texts.length * 2);
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
    assert.ok(maxDiff(a, b) < 1e-5, `merged vs base+adapter: max |Δlogit| = ${maxDiff(a, b)}`);
    // And the adapter changed something: the fine-tuned logits differ from the base model's (fresh task head).
    assert.ok(maxDiff(a, c) > 1e-6, 'the fine-tuned model differs from the base');
  } finally {
    downloaded.model.dispose();
    applied.model.dispose();
    base.model.dispose();
  }
}
