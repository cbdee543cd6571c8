import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');
const shared = resolve(root, process.env.HIFI_SHARED ?? '../shared');
const bin = join(root, 'apps/cli/bin/hifi.mjs');

interface Expected {
  texts: { text: string; text_pair: string | null }[];
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  logits: number[][];
}

async function hifi(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, HIFI_BACKEND: 'wasm' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function assertClose(actual: number[], expected: number[], tol = 1e-4) {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < tol, `logit ${i}: ${v} vs ${expected[i]}`));
}

test('hifi infer reproduces the reference logits from texts and from token ids (tiny-bert)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-infer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const expected = JSON.parse(await readFile(join(shared, 'fixtures/tiny-bert/expected.json'), 'utf8')) as Expected;
  const lines = [
    ...expected.texts.map((x) => JSON.stringify({ text: x.text, text_pair: x.text_pair })),
    ...expected.input_ids.map((ids, i) => JSON.stringify({ input_ids: ids, attention_mask: expected.attention_mask[i], token_type_ids: expected.token_type_ids![i] })),
  ];
  const inputs = join(dir, 'inputs.jsonl');
  await writeFile(inputs, lines.join('\n') + '\n');
  const { code, stdout, stderr } = await hifi(['infer', '--model', join(shared, 'fixtures/tiny-bert'), '--inputs', inputs, '--json', '--batch-size', '4']);
  assert.equal(code, 0, stderr);
  const out = stdout.trim().split('\n').map((l) => JSON.parse(l) as { logits: number[]; label: string });
  assert.equal(out.length, 2 * expected.texts.length);
  const id2label = ['negative', 'positive', 'neutral'];
  out.forEach((o, i) => {
    const ref = expected.logits[i % expected.texts.length];
    assertClose(o.logits, ref);
    assert.equal(o.label, id2label[ref.indexOf(Math.max(...ref))]);
  });
});

test('hifi infer --text/--pair on tiny-roberta ids and a clear error for a bad input line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hifi-infer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const expected = JSON.parse(await readFile(join(shared, 'fixtures/tiny-roberta/expected.json'), 'utf8')) as Expected;
  const ids = join(dir, 'ids.jsonl');
  await writeFile(ids, expected.input_ids.map((x, i) => JSON.stringify({ input_ids: x, attention_mask: expected.attention_mask[i] })).join('\n'));
  const ok = await hifi(['infer', '--model', join(shared, 'fixtures/tiny-roberta'), '--inputs', ids, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  ok.stdout.trim().split('\n').forEach((l, i) => assertClose((JSON.parse(l) as { logits: number[] }).logits, expected.logits[i]));

  const bad = join(dir, 'bad.jsonl');
  await writeFile(bad, '{"text": "fine"}\n{not json}\n');
  const res = await hifi(['infer', '--model', join(shared, 'fixtures/tiny-bert'), '--inputs', bad, '--json']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /line 2: not valid JSON/);

  const text = await hifi(['infer', '--model', join(shared, 'fixtures/tiny-bert'), '--text', 'The cat sat on the mat.', '--pair', 'A cat is sitting on a mat.', '--json']);
  assert.equal(text.code, 0, text.stderr);
  assertClose((JSON.parse(text.stdout) as { logits: number[] }).logits, JSON.parse(await readFile(join(shared, 'fixtures/tiny-bert/expected.json'), 'utf8')).logits[3]);

  const missing = await hifi(['infer', '--model', join(dir, 'nope'), '--text', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope/);
});
