// hifi apply: merge a HiFi adapter (heads.safetensors + adapter_config.json) into its base model and write a
// Hugging Face *ForSequenceClassification checkpoint directory.
import { parseArgs } from 'node:util';
import { applyAdapter } from '@hifi/trainer';

export const summary = 'merge an adapter into its base model (writes a Hugging Face checkpoint directory)';

const HELP = `usage: hifi apply --base <dir|hf:org/name[@rev]> --adapter <dir> --out <dir> [--allow-base-mismatch]

The adapter records a fingerprint of the model it was trained from; a base with another fingerprint is refused
unless --allow-base-mismatch is given.`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        base: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' },
        'allow-base-mismatch': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`hifi apply: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) { console.log(HELP); return 0; }
  for (const req of ['base', 'adapter', 'out'] as const) {
    if (!values[req]) { console.error(`hifi apply: --${req} is required\n\n${HELP}`); return 2; }
  }
  const r = await applyAdapter(values.base!, values.adapter!, values.out!, { allowBaseMismatch: values['allow-base-mismatch'] });
  const a = r.adapter;
  console.log(`merged ${a.mode === 'full' ? 'a full fine-tune' : `${a.heads.length} heads`} (${a.strategy}, ${a.task?.name ?? 'custom task'}) into ${values.base} → ${r.outDir}` +
    (r.fingerprintMatches ? '' : ' (base fingerprint differs from the adapter\'s)'));
  return 0;
}
