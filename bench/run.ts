// Runs the benchmark scripts of this folder one after another, each printing its own table. Every bench/*.ts
// (except this file) is a benchmark; the slow ones run only when asked for:
//   default      engine.ts (encoder speed), train-step.ts (training step), and every other script not listed below
//   --quality    also quality.ts (GLUE fine-tuning quality: hours, or ~1 h with its --reduced option)
//   --all        also the other slow ones (analysis-stability.ts)
//   --only a,b   just these scripts (names without .ts), slow or not
//   -- ARGS      everything after a bare `--` is passed on to each script run (e.g. `-- --quick`)
// Usage: npm run bench [-- --quality] [-- --only engine -- --reps 9]
// A failing script is reported at the end and the others still run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const SLOW: Record<string, string> = { quality: '--quality', 'analysis-stability': '--all' };
const FIRST = ['engine', 'train-step']; // run first, in this order

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const passOn = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const onlyAt = own.indexOf('--only');
const only = onlyAt >= 0 ? new Set((own[onlyAt + 1] ?? '').split(',').filter(Boolean)) : undefined;

const found = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
const ordered = [...FIRST.filter((n) => found.includes(n)), ...found.filter((n) => !FIRST.includes(n)).sort()];
const selected = ordered.filter((n) => (only ? only.has(n) : !SLOW[n] || own.includes(SLOW[n]) || own.includes('--all')));
for (const n of only ?? []) if (!found.includes(n)) console.log(`## ${n}: bench/${n}.ts does not exist; skipped`);
const skipped = ordered.filter((n) => !selected.includes(n) && !only);
if (skipped.length > 0) console.log(`# not run (slow; ${skipped.map((n) => `${n}: ${SLOW[n]}`).join(', ')})`);

const failed: string[] = [];
for (const name of selected) {
  console.log(`\n## ${name}  (node --import tsx bench/${name}.ts ${passOn.join(' ')})`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`), ...passOn], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed.push(`${name} (exit ${r.status ?? r.signal})`);
}
if (failed.length > 0) {
  console.error(`\nbenchmarks that failed: ${failed.join(', ')}`);
  process.exit(1);
}
