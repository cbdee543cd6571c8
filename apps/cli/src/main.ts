// `hifi` command line: dispatches to one module per command (apps/cli/src/commands/<name>.ts).
// Each command module exports `run(argv: string[]): Promise<number>` and `summary: string`.

export interface CommandModule {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  infer: () => import('./commands/infer.ts'),
  analyze: () => import('./commands/analyze.ts'),
  train: () => import('./commands/train.ts'),
  apply: () => import('./commands/apply.ts'),
};

async function usage(): Promise<string> {
  const lines = ['usage: hifi <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    let summary = '';
    try { summary = (await load()).summary; } catch { summary = '(unavailable)'; }
    lines.push(`  ${name.padEnd(9)} ${summary}`);
  }
  lines.push('', 'Run `hifi <command> --help` for the options of a command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`hifi: unknown command "${name}"\n\n${await usage()}`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (err) {
    const e = err as { message?: string; code?: string };
    console.error(`hifi ${name}: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}`);
    if (process.env.HIFI_DEBUG) console.error(err);
    return 1;
  }
}
