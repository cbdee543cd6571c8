// RFC 4180 CSV: comma-separated fields, optionally enclosed in double quotes; inside quotes, "" is a
// quote and commas/newlines are literal. Records end with LF or CRLF. Each record keeps the line
// number where it starts, so errors can point at the file.

export interface CsvRecord {
  /** 1-based line where the record starts. */
  line: number;
  fields: string[];
  /** Set when the record is malformed (e.g. text after a closing quote); fields are then unreliable. */
  error?: string;
}

/**
 * Parses CSV text (BOM already removed). Lenient where RFC 4180 is silent: a quote inside an unquoted
 * field is kept as a literal character. Malformed records are returned with `error` set instead of
 * throwing, so the caller can report them with their line number and go on. An unterminated quote
 * consumes the rest of the input and is reported on the record where it started.
 */
export function parseCsv(text: string, delimiter = ','): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  const delim = delimiter.charCodeAt(0);
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let error: string | undefined;
    // One record.
    for (;;) {
      let field = '';
      if (text.charCodeAt(i) === 34 /* " */) {
        i++;
        let closed = false;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c === 34) {
            if (text.charCodeAt(i + 1) === 34) { field += '"'; i += 2; continue; }
            i++;
            closed = true;
            break;
          }
          if (c === 10) line++;
          field += text[i];
          i++;
        }
        if (!closed) {
          error ??= `unterminated quoted field (opened on line ${startLine})`;
        } else if (i < n && text.charCodeAt(i) !== delim && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) {
          error ??= `unexpected character ${JSON.stringify(text[i])} after a closing quote`;
          // Skip to the next delimiter or end of line to resynchronise.
          while (i < n && text.charCodeAt(i) !== delim && text.charCodeAt(i) !== 10) i++;
        }
      } else {
        const start = i;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c === delim || c === 10) break;
          i++;
        }
        field = text.slice(start, i);
        if (field.endsWith('\r') && (i >= n || text.charCodeAt(i) === 10)) field = field.slice(0, -1);
      }
      fields.push(field);
      if (i < n && text.charCodeAt(i) === delim) { i++; continue; }
      // End of record: skip CR LF / LF.
      if (i < n && text.charCodeAt(i) === 13) i++;
      if (i < n && text.charCodeAt(i) === 10) { i++; line++; }
      break;
    }
    records.push(error ? { line: startLine, fields, error } : { line: startLine, fields });
  }
  return records;
}
