// Runs the benchmark scripts of this folder one after another (each prints its own table):
//   engine.ts      forward / forward+backward speed of the encoder            (default)
//   train-step.ts  speed of a full training step of the trainer               (default)
//   quality.ts     end-to-end quality on GLUE (slow)                          (only with --quality)
// Usage: npm run bench [-- --quality] [-- --only engine] [-- <options passed on to every script, e.g. --quick>]
// A script that does not exist yet is skipped with a note; a failing script is reported and the others still run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const argv = process.argv.slice(2);
const withQuality = argv.includes('--quality');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
const passOn = argv.filter((a, i) => a !== '--quality' && i !== onlyAt && i !== onlyAt + 1);

const scripts = ['engine', 'train-step', ...(withQuality ? ['quality'] : [])].filter((s) => !only || s === only);
const failed: string[] = [];
for (const name of scripts) {
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) {
    console.log(`\n## ${name}: bench/${name}.ts does not exist (yet); skipped`);
    continue;
  }
  console.log(`\n## ${name} (bench/${name}.ts ${passOn.join(' ')})`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...passOn], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed.push(`${name} (exit ${r.status ?? r.signal})`);
}
if (failed.length > 0) {
  console.error(`\nbenchmarks that failed: ${failed.join(', ')}`);
  process.exit(1);
}
