// docker-compose.yml must validate. With Debian's docker-compose (1.29) installed, `docker-compose config` checks it
// without an engine; otherwise (a machine without it) the file is parsed and its required shape is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function hasDockerCompose(): boolean {
  return spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
}

test('docker-compose.yml validates (default and gpu profile)', { skip: hasDockerCompose() ? false : 'docker-compose is not installed' }, () => {
  for (const args of [['config', '-q'], ['--profile', 'gpu', 'config', '-q']]) {
    execFileSync('docker-compose', args, { cwd: root, stdio: 'pipe' });
  }
  const full = execFileSync('docker-compose', ['--profile', 'gpu', 'config'], { cwd: root, encoding: 'utf8' });
  assert.match(full, /maxmemory-policy/);
  assert.match(full, /noeviction/);
  assert.match(full, /appendonly/);
  assert.match(full, /driver: nvidia/);
  assert.match(full, /dockerfile: Dockerfile\.gpu/);
});

test('compose and Dockerfiles keep the promised pieces', () => {
  const compose = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');
  for (const service of ['redis:', 'minio:', 'minio-init:', 'api:', 'worker:', 'worker-gpu:']) assert.ok(compose.includes(`\n  ${service}`), service);
  assert.match(compose, /profiles: \["gpu"\]/);
  const gpu = readFileSync(resolve(root, 'Dockerfile.gpu'), 'utf8');
  assert.match(gpu, /nvidia\/cuda:11\.2\.\d+-cudnn8-runtime/);
  assert.match(gpu, /@tensorflow\/tfjs-node-gpu@4\.22\.0/);
});
