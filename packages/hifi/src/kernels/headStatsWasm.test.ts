import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HEAD_STATS_BUILD_RECORD, HEAD_STATS_SOURCE, HEAD_STATS_WASM, sha256, type BuildRecord } from './build-head-stats.ts';
import { EXAMPLE_SKIPPED, EXAMPLE_USED, HeadStatsWasm, headStatsWasmUnavailable } from './headStatsWasm.ts';
import { gaussian } from '../testSupport.ts';

test('the committed head-stats.wasm was built from the committed head-stats.as', () => {
  // `build-head-stats.ts --check` recompiles and compares the bytes (seconds); this compares the recorded hashes.
  const record = JSON.parse(readFileSync(HEAD_STATS_BUILD_RECORD, 'utf8')) as BuildRecord;
  assert.equal(sha256(readFileSync(HEAD_STATS_SOURCE)), record.sourceSha256, 'head-stats.as changed since the last build: run build-head-stats.ts');
  assert.equal(sha256(readFileSync(HEAD_STATS_WASM)), record.wasmSha256, 'head-stats.wasm does not match its build record');
});

test('layerStats: statuses, token counts, RV diagonal and bounds; memory grows with the batch, not with calls', () => {
  assert.equal(headStatsWasmUnavailable(), undefined);
  const kernel = HeadStatsWasm.create();
  assert.ok(kernel);
  const [B, H, T, d] = [3, 2, 5, 4];
  const g = gaussian(4);
  const out = Float32Array.from({ length: B * H * T * d }, g);
  const mask = Int32Array.from([1, 1, 1, 1, 1, /**/ 1, 0, 0, 0, 0, /**/ 0, 1, 0, 1, 1]);
  const r = kernel.layerStats(out, mask, B, T, H, d);
  assert.deepEqual([...r.status], [EXAMPLE_USED, EXAMPLE_SKIPPED, EXAMPLE_USED]);
  assert.deepEqual([...r.tokens], [5, 1, 3]);
  for (const b of [0, 2]) {
    assert.equal(r.rv[b * H * H], 1);
    assert.equal(r.rv[b * H * H + 3], 1);
    assert.equal(r.rv[b * H * H + 1], r.rv[b * H * H + 2]);
    assert.ok(r.rv[b * H * H + 1] >= 0 && r.rv[b * H * H + 1] <= 1);
    assert.ok(r.richness[b * H] > 0 && r.richness[b * H + 1] > 0);
  }
  const bytes = kernel.memoryBytes;
  for (let i = 0; i < 20; i++) kernel.layerStats(out, mask, B, T, H, d);
  assert.equal(kernel.memoryBytes, bytes, 'repeated calls of the same shape do not grow the memory');
  const big = new Float32Array(64 * 12 * 128 * 64);
  const bigMask = new Int32Array(64 * 128).fill(1);
  kernel.layerStats(big, bigMask, 64, 128, 12, 64);
  assert.ok(kernel.memoryBytes > bytes, 'a larger batch grows the memory');
});
