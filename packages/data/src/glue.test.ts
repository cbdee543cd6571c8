import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DatasetNotFoundError, InvalidDatasetError, UnknownSplitError, UnknownTaskError } from './errors.ts';
import { loadGlue, parseGlueTsv, glueFilePath } from './glue.ts';
import { GLUE_TASKS, resolveSplit, resolveTaskName } from './tasks.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const glueDir = resolve(repoRoot, process.env.HIFI_SHARED ?? '../shared', 'data/glue');

function countLabels(labels: (number | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of labels) out[String(l)] = (out[String(l)] ?? 0) + 1;
  return out;
}

describe('task names and splits', () => {
  it('resolves GLUE spellings case-insensitively', () => {
    for (const n of ['glue:sst2', 'SST-2', 'sst-2', 'sst2', 'Glue/SST2', ' sst_2 ']) assert.equal(resolveTaskName(n), 'sst2');
    assert.equal(resolveTaskName('STS-B'), 'stsb');
    assert.equal(resolveTaskName('glue:sts-b'), 'stsb');
    assert.equal(resolveTaskName('CoLA'), 'cola');
    assert.equal(resolveTaskName('MNLI'), 'mnli');
  });

  it('rejects unknown tasks with the list of known ones', () => {
    assert.throws(() => resolveTaskName('squad'), (e: unknown) => e instanceof UnknownTaskError && /squad/.test(e.message) && /SST-2/.test(e.message));
  });

  it('maps split aliases and MNLI dev/test to the matched sets', () => {
    assert.equal(resolveSplit(GLUE_TASKS.rte, 'validation'), 'dev');
    assert.equal(resolveSplit(GLUE_TASKS.mnli, 'dev'), 'dev_matched');
    assert.equal(resolveSplit(GLUE_TASKS.mnli, 'dev-mismatched'), 'dev_mismatched');
    assert.equal(resolveSplit(GLUE_TASKS.mnli, 'test'), 'test_matched');
    assert.throws(() => resolveSplit(GLUE_TASKS.rte, 'dev_matched'), UnknownSplitError);
  });

  it('describes each task: type, labels, metrics', () => {
    assert.equal(GLUE_TASKS.stsb.taskType, 'regression');
    assert.equal(GLUE_TASKS.stsb.numLabels, 1);
    assert.deepEqual(GLUE_TASKS.mnli.labels, ['entailment', 'neutral', 'contradiction']);
    assert.deepEqual(GLUE_TASKS.rte.labels, ['entailment', 'not_entailment']);
    assert.deepEqual(GLUE_TASKS.sst2.labelNames, ['negative', 'positive']);
    assert.equal(GLUE_TASKS.cola.mainMetric, 'matthews');
    assert.equal(GLUE_TASKS.mrpc.mainMetric, 'f1');
    assert.deepEqual(GLUE_TASKS.qqp.metrics, ['f1', 'accuracy']);
    assert.deepEqual(GLUE_TASKS.stsb.metrics, ['pearson', 'spearman']);
    for (const t of ['sst2', 'mnli', 'qnli', 'rte', 'wnli'] as const) assert.equal(GLUE_TASKS[t].mainMetric, 'accuracy');
  });
});

// Expected counts below were computed from the shared files with awk, independently of this code:
//   CoLA (no header):  awk -F'\t' '{c[$2]++} END{for(k in c) print k, c[k]; print NR}' CoLA/train.tsv
//   headed files:      awk -F'\t' 'NR>1{c[$NF]++; n++} END{...}' SST-2/dev.tsv   (label = last column)
//   MRPC:              awk -F'\t' 'NR>1{c[$1]++}' MRPC/train.tsv                 (label = first column)
//   test files:        awk -F'\t' 'NR>1{n++}' X/test.tsv
// and they agree with /work/shared/data/SOURCES.md.
describe('loadGlue on the shared GLUE files', () => {
  const cases: { task: string; split: string; rows: number; labels?: Record<string, number> }[] = [
    { task: 'CoLA', split: 'train', rows: 8551, labels: { 0: 2528, 1: 6023 } },
    { task: 'CoLA', split: 'dev', rows: 1043, labels: { 0: 322, 1: 721 } },
    { task: 'CoLA', split: 'test', rows: 1063 },
    { task: 'SST-2', split: 'train', rows: 67349, labels: { 0: 29780, 1: 37569 } },
    { task: 'sst2', split: 'dev', rows: 872, labels: { 0: 428, 1: 444 } },
    { task: 'glue:sst2', split: 'test', rows: 1821 },
    { task: 'MRPC', split: 'train', rows: 3668, labels: { 0: 1194, 1: 2474 } },
    { task: 'mrpc', split: 'dev', rows: 408, labels: { 0: 129, 1: 279 } },
    { task: 'mrpc', split: 'test', rows: 1725 },
    { task: 'STS-B', split: 'train', rows: 5749 },
    { task: 'stsb', split: 'dev', rows: 1500 },
    { task: 'stsb', split: 'test', rows: 1379 },
    // RTE/QNLI: entailment = 0, not_entailment = 1.
    { task: 'RTE', split: 'train', rows: 2490, labels: { 0: 1249, 1: 1241 } },
    { task: 'rte', split: 'dev', rows: 277, labels: { 0: 146, 1: 131 } },
    { task: 'rte', split: 'test', rows: 3000 },
    { task: 'WNLI', split: 'train', rows: 635, labels: { 0: 323, 1: 312 } },
    { task: 'wnli', split: 'dev', rows: 71, labels: { 0: 40, 1: 31 } },
    { task: 'wnli', split: 'test', rows: 146 },
    { task: 'QNLI', split: 'dev', rows: 5463, labels: { 0: 2702, 1: 2761 } },
    { task: 'qnli', split: 'test', rows: 5463 },
  ];
  for (const c of cases) {
    it(`${c.task} ${c.split}: ${c.rows} rows${c.labels ? ', label counts' : ', no labels'}`, async () => {
      const ds = await loadGlue(c.task, c.split, { dataDir: glueDir });
      assert.deepEqual(ds.skipped, []);
      assert.equal(ds.examples.length, c.rows);
      if (c.split === 'test') {
        assert.equal(ds.hasLabels, false);
        assert.ok(ds.examples.every((e) => e.label === null));
      } else {
        assert.equal(ds.hasLabels, true);
        assert.ok(ds.examples.every((e) => typeof e.label === 'number'));
      }
      if (c.labels) assert.deepEqual(countLabels(ds.examples.map((e) => e.label)), c.labels);
      assert.equal(ds.examples.every((e) => (e.textPair !== null) === ds.task.isPair), true);
    });
  }

  it('CoLA dev: no header and no final newline, the last row is still read', async () => {
    const ds = await loadGlue('cola', 'dev', { dataDir: glueDir });
    // `tail -1 CoLA/dev.tsv` → w_80	1		John talked to Bill about himself.   (1043 lines, the last unterminated)
    const last = ds.examples[ds.examples.length - 1];
    assert.deepEqual(last, { text: 'John talked to Bill about himself.', textPair: null, label: 1, line: 1043 });
    // The first line is data, not a header: `head -1` → gj04	1		The sailors rode the breeze clear of the rocks.
    assert.equal(ds.examples[0].text, 'The sailors rode the breeze clear of the rocks.');
    assert.equal(ds.examples[0].line, 1);
  });

  it('MRPC: the UTF-8 BOM before "Quality" does not hide the label column; quotes are literal', async () => {
    const ds = await loadGlue('mrpc', 'dev', { dataDir: glueDir });
    // `sed -n 2p MRPC/dev.tsv`: label 1, second sentence starts with an unbalanced double quote.
    assert.equal(ds.examples[0].label, 1);
    assert.equal(ds.examples[0].text, "He said the foodservice pie business doesn 't fit the company 's long-term growth strategy .");
    assert.equal(ds.examples[0].textPair, '" The foodservice pie business does not fit our long-term growth strategy .');
    assert.equal(ds.examples[0].line, 2);
  });

  it('QNLI: quotes inside fields are kept as they are', async () => {
    const ds = await loadGlue('qnli', 'dev', { dataDir: glueDir });
    // `sed -n 6p QNLI/dev.tsv | cut -f3`
    const row = ds.examples.find((e) => e.line === 6);
    assert.equal(row?.textPair, 'He paraphrased the Te Deum as "Herr Gott, dich loben wir" with a simplified form of the melody.');
    assert.equal(row?.label, 1); // not_entailment
  });

  it('STS-B: 10 columns, the score is the last one, as a float', async () => {
    const ds = await loadGlue('stsb', 'dev', { dataDir: glueDir });
    // `sed -n 2p STS-B/dev.tsv | cut -f8,9,10` → A man with a hard hat is dancing. | A man wearing a hard hat is dancing. | 5.000
    assert.deepEqual(ds.examples[0], { text: 'A man with a hard hat is dancing.', textPair: 'A man wearing a hard hat is dancing.', label: 5, line: 2 });
    // `awk -F'\t' 'NR>1{s+=$10} END{printf "%.6f", s}' STS-B/dev.tsv` → 3545.861333
    const sum = ds.examples.reduce((s, e) => s + (e.label as number), 0);
    assert.ok(Math.abs(sum - 3545.861333) < 1e-5, `sum of dev scores ${sum}`);
    assert.ok(ds.examples.every((e) => (e.label as number) >= 0 && (e.label as number) <= 5));
  });

  it('SST-2: text is kept verbatim (GLUE leaves a trailing space)', async () => {
    const ds = await loadGlue('sst2', 'dev', { dataDir: glueDir });
    assert.equal(ds.examples[0].text, "it 's a charming and often affecting journey . ");
    assert.equal(ds.examples[0].label, 1);
  });

  it('QNLI train is not in the shared data: a clear not-found error naming the file', async () => {
    await assert.rejects(loadGlue('qnli', 'train', { dataDir: glueDir }), (e: unknown) =>
      e instanceof DatasetNotFoundError && e.file.endsWith('QNLI/train.tsv') && /downloadGlue/.test(e.message));
  });

  it('uses GLUE_DIR when no dataDir is given', async () => {
    const before = process.env.GLUE_DIR;
    process.env.GLUE_DIR = glueDir;
    try {
      const ds = await loadGlue('wnli', 'dev');
      assert.equal(ds.examples.length, 71);
      assert.equal(glueFilePath('wnli', 'dev'), resolve(glueDir, 'WNLI/dev.tsv'));
      delete process.env.GLUE_DIR;
      await assert.rejects(loadGlue('wnli', 'dev'), /GLUE_DIR/);
    } finally {
      if (before === undefined) delete process.env.GLUE_DIR;
      else process.env.GLUE_DIR = before;
    }
  });
});

describe('parseGlueTsv with malformed rows (MNLI/QQP layouts)', () => {
  it('QQP: rows with missing fields or unknown labels are skipped with their line and reason', () => {
    const text = [
      'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate',
      '1\t1\t2\tHow do I learn "Go"?\tWhat is the best way to learn Go?\t1',
      '2\t3\t4\tWhy is the sky blue?',
      '3\t5\t6\tA?\tB?\t2',
      '',
      '4\t7\t8\t\tB?\t0',
      '5\t9\t10\tC?\tD?\t0',
    ].join('\n');
    const r = parseGlueTsv('qqp', 'train', text, 'QQP/train.tsv');
    assert.deepEqual(r.examples, [
      { text: 'How do I learn "Go"?', textPair: 'What is the best way to learn Go?', label: 1, line: 2 },
      { text: 'C?', textPair: 'D?', label: 0, line: 7 },
    ]);
    assert.deepEqual(r.skipped, [
      { line: 3, reason: 'expected 6 tab-separated fields, found 4' },
      { line: 4, reason: 'label "2" is not one of 0, 1' },
      { line: 5, reason: 'blank line' },
      { line: 6, reason: 'empty text' },
    ]);
  });

  it('MNLI: label from gold_label, texts from sentence1/sentence2, CRLF tolerated', () => {
    const header = 'index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label';
    const row = (s1: string, s2: string, gold: string) => `0\t1\t1e\tfiction\t( x )\t( y )\t(ROOT x)\t(ROOT y)\t${s1}\t${s2}\tneutral\t${gold}`;
    const text = [header, row('He said "hi.', 'He spoke.', 'entailment'), row('A', 'B', 'contradiction'), row('C', 'D', '-')].join('\r\n') + '\r\n';
    const r = parseGlueTsv('mnli', 'dev_matched', text);
    assert.deepEqual(r.examples.map((e) => [e.text, e.textPair, e.label]), [['He said "hi.', 'He spoke.', 0], ['A', 'B', 2]]);
    assert.deepEqual(r.skipped, [{ line: 4, reason: 'label "-" is not one of entailment, neutral, contradiction' }]);
  });

  it('STS-B: a non-numeric score is skipped', () => {
    const h = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore';
    const r = parseGlueTsv('stsb', 'dev', `${h}\n0\tg\tf\ty\t0\tn\tn\tA\tB\tx\n1\tg\tf\ty\t0\tn\tn\tA\tB\t2.5\n`);
    assert.deepEqual(r.examples, [{ text: 'A', textPair: 'B', label: 2.5, line: 3 }]);
    assert.deepEqual(r.skipped, [{ line: 2, reason: 'score "x" is not a number' }]);
  });

  it('a header without the expected column is an error naming the column', () => {
    assert.throws(() => parseGlueTsv('rte', 'dev', 'index\tpremise\thypothesis\tlabel\n', 'RTE/dev.tsv'),
      (e: unknown) => e instanceof InvalidDatasetError && /"sentence1"/.test(e.message) && /RTE\/dev.tsv/.test(e.message));
  });
});
