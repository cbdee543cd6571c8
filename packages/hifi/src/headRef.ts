// A head is addressed as a [layer, head] pair, both 0-based.

export type HeadRef = readonly [layer: number, head: number];

/** Checks that `value` is a [layer, head] pair inside a numLayers × numHeads model; `where` names it in errors. */
export function checkHeadRef(value: unknown, numLayers: number, numHeads: number, where: string): HeadRef {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => Number.isInteger(v))) {
    throw new RangeError(`${where}: expected a [layer, head] pair of integers, got ${JSON.stringify(value)}`);
  }
  const [layer, head] = value as [number, number];
  if (layer < 0 || layer >= numLayers) throw new RangeError(`${where}: layer ${layer} out of range [0, ${numLayers})`);
  if (head < 0 || head >= numHeads) throw new RangeError(`${where}: head ${head} out of range [0, ${numHeads})`);
  return [layer, head];
}

/** Orders heads by layer then head. */
export function compareHeadRefs(a: HeadRef, b: HeadRef): number {
  return a[0] - b[0] || a[1] - b[1];
}
