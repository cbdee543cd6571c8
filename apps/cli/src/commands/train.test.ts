import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run as train, parseHeadList, ProgressView } from './train.ts';
import { run as apply } from './apply.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');

test('hifi train then hifi apply: the applied model equals the merged export byte for byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-cli-train-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'run');
  const code = await train([
    '--model', join(SHARED, 'fixtures/tiny-bert'), '--task', 'glue:SST-2', '--data-dir', join(SHARED, 'data/glue'), '--out', out,
    '--heads', '0.1,1.3', '--epochs', '1', '--max-train-examples', '24', '--max-eval-examples', '16', '--batch-size', '8',
    '--max-length', '24', '--lr', '0.005', '--seed', '4',
  ]);
  assert.equal(code, 0);
  const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics.heads, [[0, 1], [1, 3]]);
  assert.equal(metrics.hyperparameters.headLearningRate, 0.005);
  assert.equal(metrics.hyperparameters.seed, 4);
  assert.equal(metrics.steps, 3);
  assert.equal(await apply(['--base', join(SHARED, 'fixtures/tiny-bert'), '--adapter', join(out, 'adapter'), '--out', join(dir, 'applied')]), 0);
  assert.ok((await readFile(join(dir, 'applied', 'model.safetensors'))).equals(await readFile(join(out, 'merged', 'model.safetensors'))));
});

test('usage errors exit with 2 and name the option', async () => {
  assert.equal(await train(['--task', 'glue:rte', '--out', '/tmp/x']), 2);
  assert.equal(await train(['--model', 'm', '--task', 't', '--out', 'o', '--epochs', 'many']), 2);
  assert.equal(await train(['--model', 'm', '--task', 't', '--out', 'o', '--heads-per-layer', '2', '--heads-total', '4']), 2);
  assert.equal(await train(['--bogus']), 2);
  assert.equal(await apply(['--base', 'b']), 2);
  assert.deepEqual(parseHeadList('0.3, 1.5,2:0'), [[0, 3], [1, 5], [2, 0]]);
  assert.throws(() => parseHeadList('3'), /LAYER.HEAD/);
});

test('progress lines: a bar on a TTY, plain text otherwise', () => {
  const p = { stage: 'train' as const, step: 5, totalSteps: 10, epoch: 0.5, loss: 0.5, lr: 1e-3, etaSeconds: 75 };
  const tty = new ProgressView(process.stderr, true).line(p);
  const plain = new ProgressView(process.stderr, false).line(p);
  assert.match(tty, /█{12}░{12} 5\/10/);
  assert.equal(plain, '[train] 5/10 ep 0.50 loss 0.5000 lr 1.00e-3 eta 1m15s');
});
