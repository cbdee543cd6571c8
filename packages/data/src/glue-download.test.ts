import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DownloadError } from './errors.ts';
import { loadGlue } from './glue.ts';
import { downloadGlue, formatMrpc, GLUE_ARCHIVES, GLUE_BASE_URL, MRPC_FILES } from './glue-download.ts';
import { createZip } from './zip.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const glueDir = resolve(repoRoot, process.env.HIFI_SHARED ?? '../shared', 'data/glue');

/** The first `n` lines of a shared GLUE file (header included), with a final newline. */
async function head(rel: string, n: number): Promise<string> {
  const text = await readFile(join(glueDir, rel), 'utf8');
  return `${text.split('\n').slice(0, n).join('\n')}\n`;
}

const routes = new Map<string, Buffer>();
const requests: string[] = [];
let server: Server;
let base: string;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'hifi-data-dl-'));
  // SST-2.zip as GLUE ships it: one SST-2/ folder with the three TSVs (here the first rows of the shared files).
  routes.set('/glue/SST-2.zip', createZip([
    { name: 'SST-2/', data: new Uint8Array(0) },
    { name: 'SST-2/train.tsv', data: Buffer.from(await head('SST-2/train.tsv', 21)) },
    { name: 'SST-2/dev.tsv', data: Buffer.from(await head('SST-2/dev.tsv', 11)) },
    { name: 'SST-2/test.tsv', data: Buffer.from(await head('SST-2/test.tsv', 6)) },
  ]));
  // QNLIv2.zip: the folder inside is named QNLI and there is macOS metadata to ignore.
  routes.set('/glue/QNLIv2.zip', createZip([
    { name: 'QNLI/dev.tsv', data: Buffer.from(await head('QNLI/dev.tsv', 8)) },
    { name: '__MACOSX/QNLI/._dev.tsv', data: Buffer.from('junk') },
  ]));
  // RTE.zip that is corrupt: valid structure, flipped data byte.
  const rte = createZip([{ name: 'RTE/dev.tsv', data: Buffer.from(await head('RTE/dev.tsv', 5)) }], { method: 'store' });
  rte[30 + 'RTE/dev.tsv'.length + 3] ^= 0x55;
  routes.set('/glue/RTE.zip', rte);

  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = routes.get(req.url ?? '');
    if (!body) { res.statusCode = 404; res.end('not found'); return; }
    res.setHeader('content-type', 'application/octet-stream');
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/glue`;
});

after(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await rm(work, { recursive: true, force: true });
});

describe('downloadGlue', () => {
  it('uses the canonical archive names of download_glue_data.py', () => {
    assert.equal(GLUE_BASE_URL, 'https://dl.fbaipublicfiles.com/glue/data');
    assert.equal(`${GLUE_BASE_URL}/${GLUE_ARCHIVES.sst2}`, 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip');
    assert.equal(GLUE_ARCHIVES.qqp, 'QQP-clean.zip');
    assert.equal(GLUE_ARCHIVES.qnli, 'QNLIv2.zip');
  });

  it('downloads, unzips and places SST-2 so that loadGlue reads it', async () => {
    const dataDir = join(work, 'glue-a');
    const r = await downloadGlue('sst2', dataDir, { baseUrl: base });
    assert.equal(r.alreadyPresent, false);
    assert.equal(r.dir, join(dataDir, 'SST-2'));
    assert.deepEqual(r.files, ['dev.tsv', 'test.tsv', 'train.tsv']);
    assert.equal(await readFile(join(dataDir, 'SST-2/train.tsv'), 'utf8'), await head('SST-2/train.tsv', 21));
    const train = await loadGlue('sst2', 'train', { dataDir });
    const shared = await loadGlue('sst2', 'train', { dataDir: glueDir });
    assert.deepEqual(train.examples, shared.examples.slice(0, 20));
    assert.equal((await loadGlue('sst2', 'test', { dataDir })).examples.length, 5);
    // No temporary folder is left next to the task folder.
    assert.deepEqual(await readdir(dataDir), ['SST-2']);
  });

  it('keeps an existing folder unless force is set', async () => {
    const dataDir = join(work, 'glue-a');
    const before = requests.length;
    const again = await downloadGlue('SST-2', dataDir, { baseUrl: base });
    assert.equal(again.alreadyPresent, true);
    assert.equal(requests.length, before);
    const forced = await downloadGlue('SST-2', dataDir, { baseUrl: base, force: true });
    assert.equal(forced.alreadyPresent, false);
    assert.equal(requests.length, before + 1);
    assert.deepEqual(await readdir(dataDir), ['SST-2']);
  });

  it('finds the task folder whatever the archive calls it and skips __MACOSX', async () => {
    const dataDir = join(work, 'glue-b');
    const r = await downloadGlue('qnli', dataDir, { baseUrl: base });
    assert.deepEqual(r.files, ['dev.tsv']);
    assert.equal((await loadGlue('qnli', 'dev', { dataDir })).examples.length, 7);
  });

  it('fails with DownloadError on HTTP 404 and on a corrupt archive, leaving nothing behind', async () => {
    const dataDir = join(work, 'glue-c');
    await assert.rejects(downloadGlue('cola', dataDir, { baseUrl: base }), (e: unknown) =>
      e instanceof DownloadError && /HTTP 404/.test(e.message) && e.url === `${base}/CoLA.zip`);
    await assert.rejects(downloadGlue('rte', dataDir, { baseUrl: base }), (e: unknown) =>
      e instanceof DownloadError && /CRC-32 mismatch/.test(e.message));
    assert.deepEqual(await readdir(dataDir), []);
  });

  it('fails with DownloadError when the server is unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    await assert.rejects(downloadGlue('wnli', join(work, 'glue-d'), { baseUrl: `http://127.0.0.1:${port}` }), DownloadError);
  });

  it('rebuilds MRPC train/dev/test from the SentEval sources and the dev ids, as format_mrpc does', async () => {
    // Sources built from shared rows: msr_paraphrase_train.txt interleaves 4 train and 3 dev rows
    // (same 5 columns, BOM header); the dev ids are the (#1 ID, #2 ID) of the dev rows.
    const trainLines = (await head('MRPC/train.tsv', 5)).trimEnd().split('\n');
    const devLines = (await head('MRPC/dev.tsv', 4)).trimEnd().split('\n');
    const header = trainLines[0];
    assert.ok(header.startsWith('\ufeffQuality'));
    const [t1, t2, t3, t4] = trainLines.slice(1);
    const [d1, d2, d3] = devLines.slice(1);
    const src = [header, t1, d1, t2, t3, d2, t4, d3].join('\r\n') + '\r\n';
    const devIds = [d1, d2, d3].map((l) => l.split('\t').slice(1, 3).join('\t')).join('\n') + '\n';
    const testSrc = [header, ...[t1, d2].map((l) => l.replace(/^\d/, '0'))].join('\n') + '\n';
    routes.set(`/mrpc/${MRPC_FILES.train}`, Buffer.from(src));
    routes.set(`/mrpc/${MRPC_FILES.test}`, Buffer.from(testSrc));
    routes.set(`/glue/${MRPC_FILES.devIds}`, Buffer.from(devIds));
    const mrpcBaseUrl = base.replace(/\/glue$/, '/mrpc');
    const dataDir = join(work, 'glue-e');
    const r = await downloadGlue('MRPC', dataDir, { baseUrl: base, mrpcBaseUrl });
    assert.deepEqual(r.files, ['dev.tsv', 'dev_ids.tsv', 'test.tsv', 'train.tsv']);
    // Byte-identical to the first rows of the shared GLUE MRPC files (BOM header included).
    assert.equal(await readFile(join(dataDir, 'MRPC/train.tsv'), 'utf8'), await head('MRPC/train.tsv', 5));
    assert.equal(await readFile(join(dataDir, 'MRPC/dev.tsv'), 'utf8'), await head('MRPC/dev.tsv', 4));
    const test = await readFile(join(dataDir, 'MRPC/test.tsv'), 'utf8');
    const f1 = t1.split('\t');
    const f2 = d2.split('\t');
    assert.equal(test, `index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t${f1.slice(1).join('\t')}\n1\t${f2.slice(1).join('\t')}\n`);
    const dev = await loadGlue('mrpc', 'dev', { dataDir });
    assert.deepEqual(dev.examples, (await loadGlue('mrpc', 'dev', { dataDir: glueDir })).examples.slice(0, 3));
  });

  it('formatMrpc refuses a source row without 5 fields', () => {
    assert.throws(() => formatMrpc('Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t2\t3\n', 'h\n', ''), /expected 5 fields, found 3/);
  });
});
