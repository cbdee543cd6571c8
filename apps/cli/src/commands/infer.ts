// Placeholder until the command lands; replaced by its owner.
export const summary = '(infer: not implemented yet)';
export async function run(_argv: string[]): Promise<number> {
  console.error('hifi infer: not implemented yet');
  return 1;
}
