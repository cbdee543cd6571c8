#!/usr/bin/env node
// Runs every *.test.ts under packages/, apps/ and test/ with Node's built-in test runner (through tsx).
// Usage: node scripts/run-tests.mjs [substring filters...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const roots = ['packages', 'apps', 'test'];
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
}
for (const r of roots) { try { walk(join(root, r)); } catch { /* folder may not exist */ } }
const filters = process.argv.slice(2);
const selected = files.sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (selected.length === 0) { console.error('no test files matched'); process.exit(1); }
const concurrency = process.env.HIFI_TEST_CONCURRENCY ?? '2';
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...selected], {
  cwd: root, stdio: 'inherit', env: { ...process.env, HIFI_SHARED: process.env.HIFI_SHARED ?? join(root, '..', 'shared') },
});
process.exit(result.status ?? 1);
