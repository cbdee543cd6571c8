// Tab-separated lines as GLUE writes them: fields split on every tab, NO quoting. GLUE text contains
// double quotes that are literal characters (e.g. MRPC `" The foodservice pie business ...`), so a
// CSV-style parser would merge rows; here a quote is just a character.

/** One physical line split on tabs, with its 1-based line number. */
export interface TsvLine {
  line: number;
  fields: string[];
}

/**
 * Splits text into lines (LF or CRLF, the CR removed) with 1-based line numbers. A final newline does
 * not make an extra line (CoLA dev.tsv has none, the other files do; both give the same rows).
 * Blank lines are kept so callers can report or skip them.
 */
export function splitLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let start = 0;
  let line = 1;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = n;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--; // strip \r of CRLF
    out.push({ line, text: text.slice(start, stop) });
    start = end + 1;
    line++;
  }
  return out;
}

/** splitLines, then each line split on every tab. A BOM should already be removed (see decodeUtf8). */
export function splitTsv(text: string): TsvLine[] {
  return splitLines(text).map(({ line, text: t }) => ({ line, fields: t.split('\t') }));
}

/** True for a line with no content (only whitespace). */
export function isBlankLine(fields: string[]): boolean {
  return fields.length === 1 && fields[0].trim() === '';
}
