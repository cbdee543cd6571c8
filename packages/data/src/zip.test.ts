import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from './crc32.ts';
import { ZipFormatError } from './errors.ts';
import { createZip, extractZip, readZipEntries } from './zip.ts';

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'hifi-data-zip-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

const hasPython = spawnSync('python3', ['-c', 'import zipfile'], { stdio: 'ignore' }).status === 0;

describe('crc32', () => {
  it('matches the standard check value and works incrementally', () => {
    // The CRC-32/ISO-HDLC check value: crc32("123456789") = 0xCBF43926.
    const bytes = Buffer.from('123456789');
    assert.equal(crc32(bytes), 0xcbf43926);
    assert.equal(crc32(bytes.subarray(4), crc32(bytes.subarray(0, 4))), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
});

describe('zip', () => {
  const files = [
    { name: 'SST-2/', data: new Uint8Array(0) },
    { name: 'SST-2/train.tsv', data: Buffer.from('sentence\tlabel\nit \'s "great" \t1\n'.repeat(200)) },
    { name: 'SST-2/empty.tsv', data: new Uint8Array(0) },
    { name: 'SST-2/ünï/cödé.txt', data: Buffer.from('unicode name') },
  ];

  for (const method of ['deflate', 'store'] as const) {
    it(`round-trips ${method}d entries through extractZip, byte for byte`, async () => {
      const zipPath = join(dir, `rt-${method}.zip`);
      await writeFile(zipPath, createZip(files, { method }));
      const entries = await readZipEntries(zipPath);
      assert.deepEqual(entries.map((e) => [e.name, e.isDirectory, e.method, e.size]), files.map((f) => [f.name, f.name.endsWith('/'), method === 'store' ? 0 : 8, f.data.length]));
      const out = join(dir, `out-${method}`);
      const written = await extractZip(zipPath, out);
      assert.deepEqual(written.sort(), ['SST-2/empty.tsv', 'SST-2/train.tsv', 'SST-2/ünï/cödé.txt'].sort());
      for (const f of files.filter((x) => !x.name.endsWith('/'))) assert.deepEqual(await readFile(join(out, f.name)), Buffer.from(f.data));
    });
  }

  it('reads an archive written by an independent implementation (Python zipfile)', { skip: !hasPython && 'python3 not available' }, async () => {
    const zipPath = join(dir, 'py.zip');
    const script = `import zipfile\nwith zipfile.ZipFile(${JSON.stringify(zipPath)}, 'w', zipfile.ZIP_DEFLATED) as z:\n  z.writestr('RTE/dev.tsv', 'index\\tsentence1\\tsentence2\\tlabel\\n' * 50)\n  z.writestr('RTE/readme.txt', 'x', compress_type=zipfile.ZIP_STORED)\n  z.comment = b'archive comment'\n`;
    assert.equal(spawnSync('python3', ['-c', script]).status, 0);
    const out = join(dir, 'py-out');
    await extractZip(zipPath, out);
    assert.equal(await readFile(join(out, 'RTE/dev.tsv'), 'utf8'), 'index\tsentence1\tsentence2\tlabel\n'.repeat(50));
    assert.equal(await readFile(join(out, 'RTE/readme.txt'), 'utf8'), 'x');
  });

  it('writes archives that an independent implementation (Python zipfile) reads and CRC-checks', { skip: !hasPython && 'python3 not available' }, async () => {
    const zipPath = join(dir, 'ours.zip');
    await writeFile(zipPath, createZip(files));
    const r = spawnSync('python3', ['-c', `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(len(z.read('SST-2/train.tsv')))`, zipPath], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(Number(r.stdout.trim()), files[1].data.length);
  });

  it('rejects paths that escape the destination (zip-slip)', async () => {
    const zipPath = join(dir, 'slip.zip');
    await writeFile(zipPath, createZip([{ name: '../evil.txt', data: Buffer.from('x') }]));
    await assert.rejects(extractZip(zipPath, join(dir, 'slip-out')), (e: unknown) => e instanceof ZipFormatError && /unsafe entry path/.test(e.message));
    await assert.rejects(readFile(join(dir, 'evil.txt')), { code: 'ENOENT' });
  });

  it('detects corrupt data (CRC mismatch) and truncated or non-zip files', async () => {
    const good = createZip([{ name: 'a.txt', data: Buffer.from('hello hello hello hello') }], { method: 'store' });
    const bad = Buffer.from(good);
    bad[30 + 'a.txt'.length] ^= 0xff; // flip the first data byte
    const badPath = join(dir, 'bad.zip');
    await writeFile(badPath, bad);
    await assert.rejects(extractZip(badPath, join(dir, 'bad-out')), (e: unknown) => e instanceof ZipFormatError && /CRC-32 mismatch/.test(e.message));
    const notZip = join(dir, 'not.zip');
    await writeFile(notZip, 'this is not a zip archive at all, just some text');
    await assert.rejects(readZipEntries(notZip), /no end-of-central-directory/);
    const truncated = join(dir, 'trunc.zip');
    await writeFile(truncated, good.subarray(0, 10));
    await assert.rejects(readZipEntries(truncated), ZipFormatError);
  });
});
