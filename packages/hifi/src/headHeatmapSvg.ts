// An SVG heat map of head scores: one row per layer, one column per head, cells coloured on a viridis-like scale
// from the lowest to the highest score of the model; selected heads get a red outline and a white dot. Axis labels,
// a colour legend with the score range and a "selected" key. Plain string output, no dependencies.
import { viridis, VIRIDIS_STOPS } from './viridis.ts';

export interface HeatmapOptions {
  /** scores[layer][head]. */
  scores: readonly ArrayLike<number>[];
  /** mask[layer][head], 1 = selected. */
  mask?: readonly ArrayLike<number>[];
  title?: string;
  /** Cell side in px (default 28). */
  cellSize?: number;
}

export function headHeatmapSvg(opts: HeatmapOptions): string {
  const { scores, mask } = opts;
  const L = scores.length;
  const H = L > 0 ? scores[0].length : 0;
  scores.forEach((row, l) => {
    if (row.length !== H) throw new RangeError(`headHeatmapSvg: scores[${l}] has ${row.length} heads, expected ${H}`);
  });
  if (mask && (mask.length !== L || mask.some((row) => row.length !== H))) throw new RangeError(`headHeatmapSvg: mask must be ${L}×${H} like scores`);
  const cell = opts.cellSize ?? 28;
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of scores) for (let h = 0; h < H; h++) { if (Number.isFinite(row[h])) { lo = Math.min(lo, row[h]); hi = Math.max(hi, row[h]); } }
  if (!Number.isFinite(lo)) { lo = 0; hi = 0; }
  const t = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);

  const left = 64;
  const top = opts.title ? 58 : 40;
  const gridW = H * cell;
  const gridH = L * cell;
  const legendX = left + gridW + 24;
  const legendH = Math.max(gridH, 80);
  // Wide enough for the title too (bold 14 px sans-serif: about 0.62 em per character).
  const titleWidth = opts.title ? left + Math.ceil(opts.title.length * 14 * 0.62) + 16 : 0;
  const width = Math.max(legendX + 110, titleWidth);
  const height = top + Math.max(gridH, legendH) + 24;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push('<defs><linearGradient id="hifi-scale" x1="0" y1="1" x2="0" y2="0">');
  for (let i = 0; i < VIRIDIS_STOPS; i++) {
    const f = i / (VIRIDIS_STOPS - 1);
    out.push(`<stop offset="${fmt(f)}" stop-color="${viridis(f)}"/>`);
  }
  out.push('</linearGradient></defs>');
  if (opts.title) out.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">${escapeXml(opts.title)}</text>`);
  // Axis titles and ticks.
  out.push(`<text x="${left + gridW / 2}" y="${top - 24}" text-anchor="middle">head</text>`);
  out.push(`<text transform="translate(16 ${top + gridH / 2}) rotate(-90)" text-anchor="middle">layer</text>`);
  for (let h = 0; h < H; h++) out.push(`<text x="${left + h * cell + cell / 2}" y="${top - 6}" text-anchor="middle">${h}</text>`);
  for (let l = 0; l < L; l++) out.push(`<text x="${left - 8}" y="${top + l * cell + cell / 2 + 4}" text-anchor="end">${l}</text>`);
  // Cells.
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const v = scores[l][h];
      const x = left + h * cell;
      const y = top + l * cell;
      const selected = mask?.[l][h] === 1;
      const label = `layer ${l}, head ${h}: score ${Number.isFinite(v) ? v.toPrecision(4) : 'n/a'}${selected ? ' (selected)' : ''}`;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${Number.isFinite(v) ? viridis(t(v)) : '#cccccc'}" stroke="#ffffff" stroke-width="1"><title>${escapeXml(label)}</title></rect>`);
      if (selected) {
        out.push(`<rect class="selected" x="${x + 2}" y="${y + 2}" width="${cell - 4}" height="${cell - 4}" fill="none" stroke="#e41a1c" stroke-width="3"/>`);
        out.push(`<circle cx="${x + cell / 2}" cy="${y + cell / 2}" r="${fmt(cell / 8)}" fill="#ffffff" stroke="#000000" stroke-width="0.5"/>`);
      }
    }
  }
  // Legend.
  out.push(`<rect x="${legendX}" y="${top}" width="14" height="${legendH - 40}" fill="url(#hifi-scale)" stroke="#333333" stroke-width="0.5"/>`);
  out.push(`<text x="${legendX + 20}" y="${top + 8}">${fmtScore(hi)}</text>`);
  out.push(`<text x="${legendX + 20}" y="${top + legendH - 40}">${fmtScore(lo)}</text>`);
  out.push(`<text x="${legendX + 20}" y="${top + (legendH - 40) / 2 + 4}">score</text>`);
  const keyY = top + legendH - 24;
  out.push(`<rect x="${legendX}" y="${keyY}" width="14" height="14" fill="#bbbbbb" stroke="#e41a1c" stroke-width="3"/>`);
  out.push(`<text x="${legendX + 20}" y="${keyY + 11}">selected</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmt(v: number): string {
  return Number(v.toFixed(4)).toString();
}

function fmtScore(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(3) : 'n/a';
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
