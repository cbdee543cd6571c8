// A viridis-like colour scale: linear interpolation between nine samples of matplotlib's viridis map.

const STOPS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** Colour of `t` in [0, 1] (clamped; NaN → 0) as "#rrggbb". */
export function viridis(t: number): string {
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i], STOPS[i + 1]];
  return '#' + [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f).toString(16).padStart(2, '0')).join('');
}

/** Number of samples the scale interpolates (for legends that want one gradient stop per sample). */
export const VIRIDIS_STOPS = STOPS.length;
