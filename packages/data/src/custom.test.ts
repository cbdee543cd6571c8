import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildCustomDataset, inferFormat, inferLabelSchema, loadCustomDataset, parseCustomRows, splitHoldout, validateDataset,
} from './custom.ts';
import { DatasetTooLargeError, InvalidDatasetError } from './errors.ts';

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'hifi-data-custom-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

const jsonl = (rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

describe('parsing custom rows', () => {
  it('JSONL: reports each bad row with its line and reason, skips blank lines', () => {
    const text = jsonl([
      { text: 'good one', label: 'pos' },
      '{"text": "broken json", "label": ',
      { label: 'neg' },
      { text: '   ', label: 'neg' },
      '',
      { text: 'no label' },
      { text: 'empty label', label: '' },
      { text: 'bool label', label: true },
      [1, 2],
      { text: 'pair', text_pair: 'other', label: 'neg' },
      { text: 'bad pair', text_pair: 5, label: 'neg' },
    ]);
    const r = parseCustomRows(text, 'jsonl');
    assert.deepEqual(r.rows, [
      { line: 1, text: 'good one', textPair: null, label: 'pos' },
      { line: 10, text: 'pair', textPair: 'other', label: 'neg' },
    ]);
    assert.deepEqual(r.rejected.map((x) => x.line), [2, 3, 4, 6, 7, 8, 9, 11]);
    assert.match(r.rejected[0].reason, /^invalid JSON/);
    assert.deepEqual(r.rejected.slice(1).map((x) => x.reason), [
      'missing "text"', 'empty "text"', 'missing "label"', 'empty "label"', '"label" must be a string or a number',
      'expected a JSON object with "text" and "label"', '"text_pair" must be a string',
    ]);
  });

  it('CSV: RFC 4180 quoting, header in any case/order, multi-line rows keep their first line number', () => {
    const text = '\ufeffLabel,Text,text_pair\r\n1,"Hello, ""world""",a\r\n0,"multi\nline",b\r\n2,,c\r\n1,too,many,fields\r\n';
    // BOM is removed by decodeUtf8 in real loads; strip it here the same way.
    const r = parseCustomRows(text.slice(1), 'csv');
    assert.deepEqual(r.rows, [
      { line: 2, text: 'Hello, "world"', textPair: 'a', label: 1 },
      { line: 3, text: 'multi\nline', textPair: 'b', label: 0 },
    ]);
    assert.deepEqual(r.rejected, [
      { line: 5, reason: 'empty "text"' },
      { line: 6, reason: 'expected 3 comma-separated fields (as in the header), found 4' },
    ]);
  });

  it('TSV: tabs only, quotes are literal', () => {
    const r = parseCustomRows('text\tlabel\n"quoted" text\t0.5\nno label here\n', 'tsv');
    assert.deepEqual(r.rows, [{ line: 2, text: '"quoted" text', textPair: null, label: 0.5 }]);
    assert.deepEqual(r.rejected, [{ line: 3, reason: 'expected 2 tab-separated fields (as in the header), found 1' }]);
  });

  it('a header without text or label fails the whole file, naming it', () => {
    assert.throws(() => parseCustomRows('sentence,label\nx,1\n', 'csv', 'mine.csv'),
      (e: unknown) => e instanceof InvalidDatasetError && /mine\.csv/.test(e.message) && /no "text" column/.test(e.message));
  });

  it('infers the format from the file name', () => {
    assert.equal(inferFormat('a/b.JSONL'), 'jsonl');
    assert.equal(inferFormat('x.csv'), 'csv');
    assert.equal(inferFormat('x.tsv'), 'tsv');
    assert.throws(() => inferFormat('x.xlsx'), InvalidDatasetError);
  });
});

describe('label inference', () => {
  it('non-integer numbers → regression', () => {
    assert.deepEqual(inferLabelSchema([1, 2.5, 0]), { taskType: 'regression', labels: [] });
  });
  it('integers → classes sorted numerically', () => {
    assert.deepEqual(inferLabelSchema([10, 2, 1, 2]), { taskType: 'classification', labels: ['1', '2', '10'] });
  });
  it('strings (or a mix) → classes sorted as strings', () => {
    assert.deepEqual(inferLabelSchema(['neg', 'pos', 'neutral', 'pos']), { taskType: 'classification', labels: ['neg', 'neutral', 'pos'] });
    assert.deepEqual(inferLabelSchema(['b', 1, 'a']), { taskType: 'classification', labels: ['1', 'a', 'b'] });
  });
  it('a forced task type wins', () => {
    assert.deepEqual(inferLabelSchema([1, 2, 3], 'regression'), { taskType: 'regression', labels: [] });
  });
});

describe('buildCustomDataset / loadCustomDataset', () => {
  const rows = (n: number, label: (i: number) => unknown) => Array.from({ length: n }, (_, i) => ({ text: `example ${i}`, label: label(i) }));

  it('maps labels to sorted class ids and holds out a seeded 10% for validation', () => {
    const text = jsonl(rows(50, (i) => ['pos', 'neg', 'neutral'][i % 3]));
    const a = buildCustomDataset({ text, file: 'd.jsonl', format: 'jsonl' }, null, { seed: 7 });
    assert.equal(a.taskType, 'classification');
    assert.deepEqual(a.labels, ['neg', 'neutral', 'pos']);
    assert.equal(a.numLabels, 3);
    assert.equal(a.mainMetric, 'accuracy');
    assert.equal(a.validationSource, 'split');
    assert.equal(a.validation.length, 5); // round(50 × 0.1)
    assert.equal(a.train.length, 45);
    // Row i has label ['pos','neg','neutral'][i % 3] → ids pos=2, neg=0, neutral=1.
    for (const e of [...a.train, ...a.validation]) assert.equal(e.label, [2, 0, 1][(e.line - 1) % 3]);
    // Disjoint, complete, each part in file order.
    const lines = [...a.train, ...a.validation].map((e) => e.line).sort((x, y) => x - y);
    assert.deepEqual(lines, Array.from({ length: 50 }, (_, i) => i + 1));
    assert.deepEqual(a.validation.map((e) => e.line), [...a.validation.map((e) => e.line)].sort((x, y) => x - y));
    // Same seed → same split; another seed → another split.
    const b = buildCustomDataset({ text, file: 'd.jsonl', format: 'jsonl' }, null, { seed: 7 });
    assert.deepEqual(b.validation, a.validation);
    const c = buildCustomDataset({ text, file: 'd.jsonl', format: 'jsonl' }, null, { seed: 8 });
    assert.notDeepEqual(c.validation.map((e) => e.line), a.validation.map((e) => e.line));
  });

  it('splitHoldout keeps at least one row on each side', () => {
    assert.deepEqual(splitHoldout(3, 0.1, 1).validation.length, 1);
    assert.deepEqual(splitHoldout(3, 0, 1).validation, []);
    assert.throws(() => splitHoldout(3, 1, 1), RangeError);
  });

  it('regression from float labels, with Pearson/Spearman metrics', () => {
    const text = 'text,label\n' + Array.from({ length: 20 }, (_, i) => `t${i},${(i / 4).toFixed(2)}`).join('\n');
    const d = buildCustomDataset({ text, file: 'r.csv', format: 'csv' }, null, { validationFraction: 0.25 });
    assert.equal(d.taskType, 'regression');
    assert.deepEqual(d.labels, []);
    assert.equal(d.numLabels, 1);
    assert.deepEqual(d.metrics, ['pearson', 'spearman']);
    assert.equal(d.validation.length, 5);
    assert.ok([...d.train, ...d.validation].every((e) => e.label === (e.line - 2) / 4));
  });

  it("'skip' drops a few bad rows but fails over the bad-row limit; 'fail' fails on any", () => {
    const good = rows(19, (i) => i % 2);
    const oneBad = jsonl([...good.slice(0, 5), { text: '', label: 1 }, ...good.slice(5)]);
    const d = buildCustomDataset({ text: oneBad, file: 'x.jsonl', format: 'jsonl' }, null, {});
    assert.deepEqual(d.rejected, [{ file: 'x.jsonl', line: 6, reason: 'empty "text"' }]);
    assert.equal(d.train.length + d.validation.length, 19);
    assert.throws(() => buildCustomDataset({ text: oneBad, file: 'x.jsonl', format: 'jsonl' }, null, { onBadRows: 'fail' }),
      (e: unknown) => e instanceof InvalidDatasetError && e.rejected.length === 1 && /line 6: empty "text"/.test(e.message));
    const manyBad = jsonl([...good.slice(0, 10), ...Array.from({ length: 3 }, () => '{oops')]);
    // 3 of 13 rejected = 23.1% > 10%.
    assert.throws(() => buildCustomDataset({ text: manyBad, file: 'y.jsonl', format: 'jsonl' }, null, {}), /3 of 13 rows rejected \(23\.1%\), over the limit of 10\.0%/);
    assert.doesNotThrow(() => buildCustomDataset({ text: manyBad, file: 'y.jsonl', format: 'jsonl' }, null, { maxBadRowFraction: 0.25 }));
  });

  it('fails with no valid rows, and with a single class', () => {
    assert.throws(() => buildCustomDataset({ text: '{bad\n{worse\n', file: 'z.jsonl', format: 'jsonl' }, null, {}), /no valid rows \(2 rejected\)/);
    assert.throws(() => buildCustomDataset({ text: 'text,label\n', file: 'h.csv', format: 'csv' }, null, {}), /no data rows/);
    assert.throws(() => buildCustomDataset({ text: jsonl(rows(5, () => 'a')), file: 'one.jsonl', format: 'jsonl' }, null, {}), /at least 2 distinct labels/);
  });

  it('reads files, with a validation file whose unknown labels are rejected', async () => {
    const train = join(dir, 'train.csv');
    const val = join(dir, 'val.jsonl');
    await writeFile(train, '\ufefftext,label\n' + Array.from({ length: 10 }, (_, i) => `"row, ${i}",${i % 2 ? 'yes' : 'no'}`).join('\r\n') + '\r\n');
    await writeFile(val, jsonl([
      ...Array.from({ length: 10 }, (_, i) => ({ text: `v${i}`, label: i % 2 ? 'yes' : 'no' })),
      { text: 'v-unknown', label: 'maybe' },
    ]));
    const d = await loadCustomDataset(train, { validationFile: val, maxBadRowFraction: 0.2 });
    assert.equal(d.validationSource, 'file');
    assert.deepEqual(d.labels, ['no', 'yes']);
    assert.equal(d.train.length, 10);
    assert.equal(d.train[0].text, 'row, 0');
    assert.equal(d.validation.length, 10);
    assert.deepEqual(d.rejected, [{ file: val, line: 11, reason: 'label "maybe" is not one of the training labels (no, yes)' }]);
  });

  it('enforces the size limit and strict UTF-8', async () => {
    const big = join(dir, 'big.jsonl');
    await writeFile(big, jsonl(rows(100, (i) => i % 2)));
    await assert.rejects(loadCustomDataset(big, { maxBytes: 100 }), (e: unknown) => e instanceof DatasetTooLargeError && e.maxBytes === 100);
    const latin1 = join(dir, 'latin1.csv');
    await writeFile(latin1, Buffer.from('text,label\ncaf\xe9,1\n', 'latin1'));
    await assert.rejects(loadCustomDataset(latin1), /latin1\.csv: not valid UTF-8/);
  });
});

describe('validateDataset', () => {
  it('summarises an upload: rows, rejected lines, labels, counts, task type', () => {
    const buf = Buffer.from('text,text_pair,label\nA,B,entail\nC,D,contra\nE,,entail\nF,G,entail\n"H,I,contra\n');
    const s = validateDataset(buf, 'csv');
    assert.equal(s.rows, 3);
    assert.deepEqual(s.labels, ['contra', 'entail']);
    assert.deepEqual(s.labelCounts, { contra: 1, entail: 2 });
    assert.equal(s.taskType, 'classification');
    assert.equal(s.isPair, true);
    assert.deepEqual(s.columns, ['text', 'text_pair', 'label']);
    assert.deepEqual(s.rejected, [
      { line: 4, reason: 'empty "text_pair"' },
      { line: 6, reason: 'unterminated quoted field (opened on line 6)' },
    ]);
    // 2 of 5 rejected: over 10%, so not ok, and the problem says why.
    assert.equal(s.ok, false);
    assert.match(s.problem ?? '', /2 of 5 rows rejected/);
  });

  it('reports regression ranges and an ok upload', () => {
    const s = validateDataset(Buffer.from(jsonl([{ text: 'a', label: 0.5 }, { text: 'b', label: 4.25 }, { text: 'c', label: 2 }])), 'jsonl');
    assert.equal(s.ok, true);
    assert.equal(s.taskType, 'regression');
    assert.deepEqual(s.labelRange, { min: 0.5, max: 4.25 });
    assert.deepEqual(s.columns, ['text', 'label']);
    assert.equal(s.problem, undefined);
  });

  it('never throws for bad content: too large, not UTF-8, bad header', () => {
    assert.match(validateDataset(Buffer.alloc(10), 'csv', { maxBytes: 5 }).problem ?? '', /exceeds the limit/);
    assert.match(validateDataset(Buffer.from([0x74, 0xff, 0xfe]), 'tsv').problem ?? '', /not valid UTF-8/);
    const s = validateDataset(Buffer.from('foo,bar\n1,2\n'), 'csv', { fileName: 'up.csv' });
    assert.equal(s.ok, false);
    assert.match(s.problem ?? '', /up\.csv: line 1: header has no "text" or "label" column/);
  });
});
