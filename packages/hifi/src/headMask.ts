// The head mask file: which heads to fine-tune, as a versioned JSON document that the trainer reads.
import { checkHeadRef, compareHeadRefs, type HeadRef } from './headRef.ts';

export const HEAD_MASK_SCHEMA_VERSION = 1;

export interface HeadMaskFile {
  schemaVersion: typeof HEAD_MASK_SCHEMA_VERSION;
  numLayers: number;
  numHeads: number;
  /** mask[layer][head]: 1 = fine-tune, 0 = frozen. */
  mask: number[][];
  /** The heads with mask 1, ordered by layer then head. */
  selected: [number, number][];
}

export class HeadMaskError extends Error {
  readonly code = 'INVALID_HEAD_MASK';
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'HeadMaskError';
  }
}

export function headMaskFile(numLayers: number, numHeads: number, selected: readonly HeadRef[]): HeadMaskFile {
  const mask = Array.from({ length: numLayers }, () => new Array<number>(numHeads).fill(0));
  selected.forEach((ref, i) => {
    const [l, h] = checkHeadRef(ref, numLayers, numHeads, `headMaskFile: selected[${i}]`);
    mask[l][h] = 1;
  });
  return { schemaVersion: HEAD_MASK_SCHEMA_VERSION, numLayers, numHeads, mask, selected: selectedFromMask(mask) };
}

function selectedFromMask(mask: number[][]): [number, number][] {
  const out: [number, number][] = [];
  mask.forEach((row, l) => row.forEach((v, h) => { if (v === 1) out.push([l, h]); }));
  return out.sort(compareHeadRefs);
}

/** Validates a parsed head-mask JSON document; `source` names the file in errors. */
export function parseHeadMask(json: unknown, source = 'head-mask.json'): HeadMaskFile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new HeadMaskError(source, 'expected a JSON object');
  const o = json as Record<string, unknown>;
  if (o.schemaVersion !== HEAD_MASK_SCHEMA_VERSION) throw new HeadMaskError(source, `unsupported schemaVersion ${JSON.stringify(o.schemaVersion)} (expected ${HEAD_MASK_SCHEMA_VERSION})`);
  for (const k of ['numLayers', 'numHeads'] as const) {
    if (!Number.isInteger(o[k]) || (o[k] as number) < 1) throw new HeadMaskError(source, `field "${k}" must be a positive integer, got ${JSON.stringify(o[k])}`);
  }
  const L = o.numLayers as number;
  const H = o.numHeads as number;
  if (!Array.isArray(o.mask) || o.mask.length !== L) throw new HeadMaskError(source, `field "mask" must be an array of ${L} rows`);
  const mask = o.mask.map((row: unknown, l: number) => {
    if (!Array.isArray(row) || row.length !== H) throw new HeadMaskError(source, `mask[${l}] must be an array of ${H} values`);
    return row.map((v: unknown, h: number) => {
      if (v !== 0 && v !== 1) throw new HeadMaskError(source, `mask[${l}][${h}] must be 0 or 1, got ${JSON.stringify(v)}`);
      return v;
    });
  });
  if (!Array.isArray(o.selected)) throw new HeadMaskError(source, 'field "selected" must be an array of [layer, head] pairs');
  const selected = o.selected.map((ref: unknown, i: number) => {
    try { return checkHeadRef(ref, L, H, `selected[${i}]`); } catch (err) { throw new HeadMaskError(source, (err as Error).message); }
  });
  const fromMask = selectedFromMask(mask);
  const given = [...selected].sort(compareHeadRefs).map((r) => `${r[0]},${r[1]}`);
  if (given.length !== fromMask.length || given.some((s, i) => s !== `${fromMask[i][0]},${fromMask[i][1]}`)) {
    throw new HeadMaskError(source, 'fields "mask" and "selected" disagree');
  }
  return { schemaVersion: HEAD_MASK_SCHEMA_VERSION, numLayers: L, numHeads: H, mask, selected: fromMask };
}
