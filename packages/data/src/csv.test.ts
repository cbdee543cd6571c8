import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv } from './csv.ts';

describe('parseCsv (RFC 4180)', () => {
  it('splits plain fields and keeps empty ones', () => {
    assert.deepEqual(parseCsv('a,b,c\n1,,3\n'), [
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '', '3'] },
    ]);
    assert.deepEqual(parseCsv('x,'), [{ line: 1, fields: ['x', ''] }]);
  });

  it('handles quoted fields with commas, doubled quotes, and line breaks, tracking start lines', () => {
    const text = 'text,label\r\n"Hello, world",1\r\n"She said ""hi""",0\r\n"two\nlines",1\nlast,0';
    assert.deepEqual(parseCsv(text), [
      { line: 1, fields: ['text', 'label'] },
      { line: 2, fields: ['Hello, world', '1'] },
      { line: 3, fields: ['She said "hi"', '0'] },
      { line: 4, fields: ['two\nlines', '1'] },
      { line: 6, fields: ['last', '0'] },
    ]);
  });

  it('keeps a quote inside an unquoted field literally', () => {
    assert.deepEqual(parseCsv('5" screen,1\n'), [{ line: 1, fields: ['5" screen', '1'] }]);
  });

  it('reports text after a closing quote and an unterminated quote, with the starting line', () => {
    const r = parseCsv('"ab"c,1\nok,2\n"never closed,3\nmore\n');
    assert.equal(r[0].line, 1);
    assert.match(r[0].error ?? '', /unexpected character "c" after a closing quote/);
    assert.deepEqual(r[1], { line: 2, fields: ['ok', '2'] });
    assert.equal(r[2].line, 3);
    assert.match(r[2].error ?? '', /unterminated quoted field \(opened on line 3\)/);
    assert.equal(r.length, 3);
  });

  it('reads tab-delimited text when asked', () => {
    assert.deepEqual(parseCsv('a\t"b\tc"\n', '\t'), [{ line: 1, fields: ['a', 'b\tc'] }]);
  });
});
