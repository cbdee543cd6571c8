// Every workspace declares what its code imports: each bare import specifier in a workspace's src/ (and bin/)
// names a package listed in that workspace's package.json (dependencies, devDependencies, peer or optional), or
// the workspace itself. Node built-ins are exempt. Without this, an import resolves only because npm happened to
// hoist a package another workspace declared, and breaks when that one drops it or a tool installs one workspace.
// Specifiers come from TypeScript's own import scanner (static and dynamic imports, `export … from`, `require`),
// plus `require.resolve('x')` / `createRequire(…).resolve('x')`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const CODE_DIRS = ['src', 'bin'];
const CODE_FILE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;
const RESOLVE_CALL = /(?:\brequire|\bcreateRequire\([^()]*(?:\([^()]*\))?[^()]*\))\.resolve\(\s*(['"])([^'"]+)\1\s*\)/g;

interface PackageJson {
  name: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

/** Workspace folders from the root package.json (`packages/*`, `apps/*`). */
function workspaceDirs(): string[] {
  const dirs: string[] = [];
  for (const pattern of readJson(join(ROOT, 'package.json')).workspaces ?? []) {
    if (!pattern.endsWith('/*')) throw new Error(`workspace pattern ${pattern}: only "<folder>/*" is supported by this test`);
    const parent = join(ROOT, pattern.slice(0, -2));
    for (const name of readdirSync(parent).sort()) if (existsSync(join(parent, name, 'package.json'))) dirs.push(join(parent, name));
  }
  return dirs;
}

function codeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (CODE_FILE.test(name) && !name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const sub of CODE_DIRS) if (existsSync(join(dir, sub))) walk(join(dir, sub));
  return out;
}

/** Every module specifier a source file refers to. */
export function importSpecifiers(source: string): string[] {
  const found = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
  for (const m of source.matchAll(RESOLVE_CALL)) found.push(m[2]!);
  return found;
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for relative, absolute, URL or built-in ones. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(specifier)) return null;
  if (isBuiltin(specifier)) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

test('the import scanner sees every import form and reduces specifiers to package names', () => {
  const source = [
    "import a from 'alpha';",
    "import type { B } from '@scope/beta/types.ts';",
    "export * from 'gamma/sub/path.js';",
    "export { d } from './local.ts';",
    "const e = await import('delta');",
    "const f = require('epsilon');",
    "const g = createRequire(import.meta.url).resolve('zeta');",
    "// import nope from 'in-a-comment';",
    "const s = \"import x from 'in-a-string'\";",
    "import { readFile } from 'node:fs/promises';",
    "import path from 'path';",
  ].join('\n');
  const packages = importSpecifiers(source).map(packageOf).filter((p) => p !== null).sort();
  assert.deepEqual(packages, ['@scope/beta', 'alpha', 'delta', 'epsilon', 'gamma', 'zeta']);
});

test('every bare import in a workspace is declared in its package.json', () => {
  const problems: string[] = [];
  const dirs = workspaceDirs();
  assert.ok(dirs.length >= 9, `found the workspaces (${dirs.map((d) => relative(ROOT, d)).join(', ')})`);
  for (const dir of dirs) {
    const pkg = readJson(join(dir, 'package.json'));
    const declared = new Set([pkg.name, ...Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies })]);
    const missing = new Map<string, Set<string>>();
    for (const file of codeFiles(dir)) {
      for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
        const name = packageOf(specifier);
        if (name === null || declared.has(name)) continue;
        if (!missing.has(name)) missing.set(name, new Set());
        missing.get(name)!.add(relative(dir, file));
      }
    }
    for (const [name, files] of missing) problems.push(`${relative(ROOT, dir)}/package.json does not declare ${name} (imported by ${[...files].join(', ')})`);
  }
  assert.deepEqual(problems, [], `undeclared imports:\n${problems.join('\n')}`);
});
