// The `Range` request header (RFC 9110 §14.2), for one range of bytes. Anything we do not serve as a single
// range (other units, several ranges, a malformed value) is ignored, as the RFC allows: the client gets a 200.

export type RangeRequest = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=(\d{0,15})-(\d{0,15})$/;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const m = SINGLE.exec(header.trim());
  if (!m) return { kind: 'none' };
  const [, first, last] = m;
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  // last < first makes the header invalid, and an invalid Range is ignored (RFC 9110 §14.1.1).
  if (last !== '' && Number(last) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
