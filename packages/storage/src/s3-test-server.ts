// A real S3 server for tests: s3rver on 127.0.0.1 (port 0), storing in a fresh temp directory, with its built-in
// credentials, and one bucket made for the caller. Test-only (s3rver is a root devDependency); import it as
// `@hifi/storage/s3-test-server.ts`.
//
// s3rver runs in a child process started with --openssl-legacy-provider: it signs ListObjectsV2 continuation tokens
// with DES, which OpenSSL 3 (Node ≥ 17) only offers through the legacy provider, so every truncated listing would
// fail with a 500 in-process. The child exits when told to, or when this process goes away (IPC disconnect).
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Credentials } from './s3-store.ts';

export interface TestS3Server {
  endpoint: string;
  region: string;
  credentials: S3Credentials;
  /** A bucket created for this server (`hifi-test-<8 hex>`). */
  bucket: string;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/** s3rver accepts only these (its built-in dummy account). */
export const S3RVER_CREDENTIALS: S3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

// The child's whole program (CommonJS, plain JS: no TypeScript loader needed in the child).
const CHILD_PROGRAM = `
const S3rver = require(process.argv[2]);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[3] });
server.run().then(
  (address) => process.send({ port: address.port }),
  (error) => { console.error(error); process.exit(1); },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('message', (message) => { if (message === 'close') stop(); });
process.on('disconnect', stop);
`;

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 15 s')), 15_000);
    child.once('message', (message: unknown) => {
      clearTimeout(timer);
      if (typeof message === 'object' && message !== null && 'port' in message && typeof message.port === 'number') resolve(message.port);
      else reject(new Error(`s3rver sent an unexpected message: ${JSON.stringify(message)}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before listening`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send('close');
    else child.kill('SIGTERM');
  });
}

export async function startTestS3Server(): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'hifi-s3rver-'));
  const program = join(directory, 'run-s3rver.cjs');
  await writeFile(program, CHILD_PROGRAM);
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const data = join(directory, 'data');
  const child = fork(program, [s3rverPath, data], { execArgv: ['--openssl-legacy-provider'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const close = async (): Promise<void> => {
    await stopChild(child);
    await rm(directory, { recursive: true, force: true });
  };
  let port: number;
  try {
    port = await waitForPort(child);
  } catch (error) {
    await close();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const bucket = `hifi-test-${randomUUID().slice(0, 8)}`;
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    await close();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, region, credentials: S3RVER_CREDENTIALS, bucket, close };
}
