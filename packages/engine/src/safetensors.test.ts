import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, readdir, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  decodeSafetensors, encodeSafetensors, halfToFloat, parseSafetensorsHeader, readSafetensors, readSafetensorsHeader,
  readShardedSafetensors, writeSafetensors, writeShardedSafetensors, SHARDED_INDEX_FILE,
} from './safetensors.ts';
import { SafetensorsError } from './errors.ts';
import type { StateDict } from './types.ts';

const SHARED = resolve(process.env.HIFI_SHARED ?? '../shared');
const TINY_BERT = join(SHARED, 'fixtures/tiny-bert/model.safetensors');

/** Builds a safetensors file by hand: 8-byte length, header JSON as given, then the data bytes. */
function rawFile(header: unknown, data: Uint8Array, headerLen?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

function assertSafetensorsError(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SafetensorsError, `expected SafetensorsError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_SAFETENSORS');
    assert.ok(err.message.includes(file), `message should name the file: ${err.message}`);
    assert.match(err.message, problem);
    return true;
  });
}

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'hifi-safetensors-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

describe('safetensors reading', () => {
  test('reads the tiny-bert fixture with shapes matching its config', async () => {
    const { tensors, metadata, gaps } = await readSafetensors(TINY_BERT);
    assert.equal(metadata.format, 'pt');
    assert.equal(tensors.size, 41);
    assert.deepEqual(tensors.get('bert.embeddings.word_embeddings.weight')?.shape, [30522, 64]);
    assert.deepEqual(tensors.get('bert.encoder.layer.1.intermediate.dense.weight')?.shape, [128, 64]);
    assert.deepEqual(tensors.get('classifier.weight')?.shape, [3, 64]);
    assert.deepEqual(gaps, []);
    for (const [name, t] of tensors) {
      assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), name);
      assert.ok(t.data.every(Number.isFinite), `${name} has non-finite values`);
    }
  });

  test('F32 tensors are views into the file buffer, not copies', async () => {
    const bytes = await readFile(TINY_BERT);
    const { tensors } = decodeSafetensors(bytes, 'tiny');
    const t = tensors.get('bert.embeddings.LayerNorm.weight')!;
    assert.equal(t.data.buffer, bytes.buffer);
    // the same bytes read with a DataView agree
    const header = parseSafetensorsHeader(bytes, bytes.length, 'tiny');
    const e = header.entries.find((x) => x.name === 'bert.embeddings.LayerNorm.weight')!;
    const dv = new DataView(bytes.buffer, bytes.byteOffset + header.dataStart + e.begin);
    assert.equal(t.data[5], dv.getFloat32(20, true));
  });

  test('F16 converts to hand-computed float32 values', () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x7c00, 0xfc00, 0x8000, 0x0400, 0x7e00];
    const expected = [1, -2, 65504, 2 ** -24, 0.333251953125, Infinity, -Infinity, -0, 2 ** -14, NaN];
    const data = new Uint8Array(new Uint16Array(bits).buffer);
    const bytes = rawFile({ h: { dtype: 'F16', shape: [2, 5], data_offsets: [0, 20] } }, data);
    const t = decodeSafetensors(bytes, 'f16').tensors.get('h')!;
    assert.deepEqual(t.shape, [2, 5]);
    assert.deepEqual(Array.from(t.data), expected);
    assert.ok(Object.is(t.data[7], -0));
    assert.equal(halfToFloat(0x3c01), 1 + 2 ** -10);
  });

  test('BF16 converts to hand-computed float32 values', () => {
    const bits = [0x3f80, 0xc0a0, 0x4049, 0x7f80, 0xff80, 0x0000, 0x3e80];
    const expected = [1, -5, 3.140625, Infinity, -Infinity, 0, 0.25];
    const data = new Uint8Array(new Uint16Array(bits).buffer);
    const bytes = rawFile({ b: { dtype: 'BF16', shape: [7], data_offsets: [0, 14] } }, data);
    assert.deepEqual(Array.from(decodeSafetensors(bytes, 'bf16').tensors.get('b')!.data), expected);
  });

  test('unaligned F16/F32 data is copied into aligned arrays and read correctly', () => {
    // header of odd length puts the data section at an odd offset
    const f32 = new Float32Array([1.5, -2.25]);
    const f16 = new Uint16Array([0x3c00, 0xc000]);
    const data = Buffer.concat([Buffer.from(f32.buffer), Buffer.from(f16.buffer)]);
    const header = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F16', shape: [2], data_offsets: [8, 12] } };
    let json = JSON.stringify(header);
    if ((8 + json.length) % 2 === 0) json += ' ';
    const bytes = rawFile(json, data);
    const { tensors } = decodeSafetensors(bytes, 'odd');
    assert.deepEqual(Array.from(tensors.get('a')!.data), [1.5, -2.25]);
    assert.deepEqual(Array.from(tensors.get('b')!.data), [1, -2]);
  });

  test('integer buffers (e.g. position_ids as I64) are read as float32', () => {
    const ids = new BigInt64Array([0n, 1n, 2n, 3n]);
    const bytes = rawFile({ p: { dtype: 'I64', shape: [1, 4], data_offsets: [0, 32] } }, new Uint8Array(ids.buffer));
    assert.deepEqual(Array.from(decodeSafetensors(bytes, 'ids').tensors.get('p')!.data), [0, 1, 2, 3]);
  });

  test('unused bytes in the data section are tolerated and reported as gaps', () => {
    const data = new Uint8Array(16);
    const bytes = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data);
    assert.deepEqual(decodeSafetensors(bytes, 'gaps').gaps, [[0, 4], [8, 16]]);
  });

  test('readSafetensorsHeader reads only the header', async () => {
    const h = await readSafetensorsHeader(TINY_BERT);
    assert.equal(h.entries.length, 41);
    assert.equal(h.dataStart % 8, 0);
    assert.equal(h.metadata.format, 'pt');
  });
});

describe('safetensors corruption gives a SafetensorsError naming the file and problem', () => {
  const ok = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
  const data16 = new Uint8Array(16);

  test('file shorter than the 8-byte length', () => {
    assertSafetensorsError(() => decodeSafetensors(Buffer.from([1, 2, 3]), 'short.safetensors'), 'short.safetensors', /too short/);
  });
  test('header length beyond the sane limit', () => {
    assertSafetensorsError(() => decodeSafetensors(rawFile(ok, data16, 1n << 40n), 'huge.safetensors'), 'huge.safetensors', /exceeds the limit/);
  });
  test('header length past the end of the file', () => {
    assertSafetensorsError(() => decodeSafetensors(rawFile(ok, data16, 5000n), 'long.safetensors'), 'long.safetensors', /past the end of the file/);
  });
  test('header that is not JSON', () => {
    assertSafetensorsError(() => decodeSafetensors(rawFile('{"a": {dtype', data16), 'nojson.safetensors'), 'nojson.safetensors', /not valid JSON/);
  });
  test('header that is JSON but not an object', () => {
    assertSafetensorsError(() => decodeSafetensors(rawFile('[1,2]', data16), 'arr.safetensors'), 'arr.safetensors', /must be a JSON object/);
  });
  test('unsupported dtype', () => {
    const h = { a: { dtype: 'F8_E4M3', shape: [16], data_offsets: [0, 16] } };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h, data16), 'f8.safetensors'), 'f8.safetensors', /tensor "a": unsupported dtype "F8_E4M3"/);
  });
  test('offsets outside the data section', () => {
    const h = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [16, 32] } };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h, data16), 'out.safetensors'), 'out.safetensors', /tensor "a": data_offsets \[16, 32\] run past the data section \(16 bytes\)/);
  });
  test('byte size that does not match the shape', () => {
    const h = { a: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h, data16), 'size.safetensors'), 'size.safetensors', /hold 16 bytes but shape \[3, 2\] of F32 needs 24/);
  });
  test('overlapping tensors', () => {
    const h = { a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h, data16), 'overlap.safetensors'), 'overlap.safetensors', /"a" \[0, 12\] and "b" \[8, 16\] overlap/);
  });
  test('bad shape and offsets types', () => {
    const h1 = { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 16] } };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h1, data16), 's.safetensors'), 's.safetensors', /shape must be an array of non-negative integers/);
    const h2 = { a: { dtype: 'F32', shape: [4], data_offsets: [0] } };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h2, data16), 'o.safetensors'), 'o.safetensors', /data_offsets must be \[begin, end\]/);
    const h3 = { __metadata__: { n: 1 }, ...ok };
    assertSafetensorsError(() => decodeSafetensors(rawFile(h3, data16), 'm.safetensors'), 'm.safetensors', /"__metadata__.n" must be a string/);
  });
  test('a truncated real checkpoint', async () => {
    const path = join(dir, 'truncated.safetensors');
    await writeFile(path, await readFile(TINY_BERT));
    await truncate(path, 1_000_000);
    await assert.rejects(readSafetensors(path), (err: unknown) => {
      assert.ok(err instanceof SafetensorsError);
      assert.ok(err.message.startsWith(path));
      assert.match(err.message, /run past the data section .* file truncated\?/);
      return true;
    });
    await truncate(path, 100); // now even the header is cut
    await assert.rejects(readSafetensors(path), /truncated.safetensors: header length \d+ runs past the end of the file \(100 bytes\)/);
  });
  test('a missing file', async () => {
    const path = join(dir, 'nope.safetensors');
    await assert.rejects(readSafetensors(path), (err: unknown) => err instanceof SafetensorsError && err.message === `${path}: file not found`);
    await assert.rejects(readSafetensorsHeader(path), /nope.safetensors: file not found/);
  });
});

describe('safetensors writing', () => {
  test('write → read round trip keeps names, shapes, values and metadata; header is 8-byte aligned', async () => {
    const tensors: StateDict = new Map([
      ['w', { shape: [2, 3], data: new Float32Array([1, 2, 3, -4.5, 1e-8, 3.4e38]) }],
      ['b', { shape: [3], data: new Float32Array([0.1, -0.2, 0.3]) }],
      ['scalar', { shape: [], data: new Float32Array([7]) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const path = join(dir, 'sub', 'rt.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'hifi' });
    const raw = await readFile(path);
    const headerLen = Number(raw.readBigUInt64LE(0));
    assert.equal(headerLen % 8, 0);
    assert.match(raw.subarray(8, 8 + headerLen).toString('utf8'), / *$/);
    const back = await readSafetensors(path);
    assert.deepEqual(back.metadata, { format: 'pt', note: 'hifi' });
    assert.deepEqual([...back.tensors.keys()].sort(), ['b', 'empty', 'scalar', 'w']);
    for (const [name, t] of tensors) {
      assert.deepEqual(back.tensors.get(name)!.shape, t.shape, name);
      assert.deepEqual(Array.from(back.tensors.get(name)!.data), Array.from(t.data), name);
    }
    // no temporary files left behind
    assert.deepEqual(await readdir(join(dir, 'sub')), ['rt.safetensors']);
    // encodeSafetensors produces the same bytes
    assert.deepEqual(encodeSafetensors(tensors, { format: 'pt', note: 'hifi' }), raw);
  });

  test('round trip of a real checkpoint is bit-exact', async () => {
    const { tensors, metadata } = await readSafetensors(TINY_BERT);
    const path = join(dir, 'copy.safetensors');
    await writeSafetensors(path, tensors, metadata);
    const back = await readSafetensors(path);
    assert.equal(back.tensors.size, tensors.size);
    for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name)!.data, t.data, name);
  });

  test('refuses a tensor whose data does not match its shape, and leaves no file', async () => {
    const path = join(dir, 'bad.safetensors');
    const tensors: StateDict = new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]);
    await assert.rejects(writeSafetensors(path, tensors), /bad.safetensors: tensor "w": shape \[2, 2\] needs 4 values, data has 3/);
    assert.ok(!(await readdir(dir)).some((f) => f.includes('bad.safetensors')));
  });
});

describe('sharded checkpoints', () => {
  test('a sharded copy of tiny-bert reads back identical to the single file', async () => {
    const { tensors } = await readSafetensors(TINY_BERT);
    const shardDir = join(dir, 'sharded');
    const indexPath = await writeShardedSafetensors(shardDir, tensors, 1_000_000);
    const files = (await readdir(shardDir)).filter((f) => f.endsWith('.safetensors')).sort();
    assert.ok(files.length >= 3, `expected several shards, got ${files.join(', ')}`);
    assert.match(files[0], /^model-00001-of-000\d\d\.safetensors$/);
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    assert.equal(Object.keys(index.weight_map).length, tensors.size);
    const back = await readShardedSafetensors(indexPath);
    assert.equal(back.files.length, files.length);
    assert.equal(back.metadata.total_size, [...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0));
    assert.equal(back.tensors.size, tensors.size);
    for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name)!.data, t.data, name);
  });

  test('an index naming a key its shard lacks, or a path outside the directory, is refused', async () => {
    const d = join(dir, 'bad-index');
    const tensors: StateDict = new Map([['a', { shape: [1], data: new Float32Array([1]) }]]);
    await writeSafetensors(join(d, 'model-00001-of-00001.safetensors'), tensors);
    const indexPath = join(d, SHARDED_INDEX_FILE);
    await writeFile(indexPath, JSON.stringify({ weight_map: { a: 'model-00001-of-00001.safetensors', b: 'model-00001-of-00001.safetensors' } }));
    await assert.rejects(readShardedSafetensors(indexPath), /model.safetensors.index.json: weight_map says "b" is in model-00001-of-00001.safetensors, but that shard has no such tensor/);
    await writeFile(indexPath, JSON.stringify({ weight_map: { a: '../../etc/passwd.safetensors' } }));
    await assert.rejects(readShardedSafetensors(indexPath), /weight_map\["a"\] must be a file name in the same directory/);
    await writeFile(indexPath, '{"weight_map": ');
    await assert.rejects(readShardedSafetensors(indexPath), (err: unknown) => err instanceof SafetensorsError && /index.json: index is not valid JSON/.test(err.message));
    await writeFile(indexPath, JSON.stringify({ weight_map: { a: 'missing.safetensors' } }));
    await assert.rejects(readShardedSafetensors(indexPath), /missing.safetensors: file not found/);
  });
});
