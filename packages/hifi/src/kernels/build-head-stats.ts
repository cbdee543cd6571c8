// Builds head-stats.wasm from the AssemblyScript source head-stats.as. AssemblyScript is a dev dependency of the
// workspace (hoisted from @hifi/engine); the runtime only reads the committed .wasm. Run after editing the .as file:
//   node --import tsx packages/hifi/src/kernels/build-head-stats.ts          (writes head-stats.wasm + .build.json)
//   node --import tsx packages/hifi/src/kernels/build-head-stats.ts --check  (recompiles; exit 1 if the binary is stale)
// head-stats.build.json records the SHA-256 of the source and of the binary it produced, so a quick test can tell
// that neither changed without the other. The source keeps the .as extension so that the repository's TypeScript
// check does not read it as TypeScript; the compiler is handed its text under a .ts name.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const HEAD_STATS_SOURCE = fileURLToPath(new URL('./head-stats.as', import.meta.url));
export const HEAD_STATS_WASM = fileURLToPath(new URL('./head-stats.wasm', import.meta.url));
export const HEAD_STATS_BUILD_RECORD = fileURLToPath(new URL('./head-stats.build.json', import.meta.url));

export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

export interface BuildRecord { source: string; sourceSha256: string; wasmSha256: string; flags: string[] }

export const ASC_FLAGS = ['-O3', '--runtime', 'stub', '--importMemory', '--noAssert', '--enable', 'simd', '--noExportMemory'];

/** The part of the AssemblyScript compiler API used here. */
interface AscApi {
  main(argv: string[], options: {
    readFile(name: string): string | null;
    writeFile(name: string, contents: Uint8Array | string): void;
    listFiles(): string[];
  }): Promise<{ error: Error | null; stderr: { toString(): string } }>;
}
// Typed as string so that TypeScript does not resolve the module (its typings bring AssemblyScript's std library).
const ASC_MODULE: string = 'assemblyscript/asc';

/** Compiles the kernel source to a wasm binary (and its text form, for reading). */
export async function compileHeadStats(source = readFileSync(HEAD_STATS_SOURCE, 'utf8')): Promise<{ wasm: Uint8Array; wat: string }> {
  const { default: asc } = (await import(ASC_MODULE)) as { default: AscApi };
  const outputs = new Map<string, Uint8Array | string>();
  const { error, stderr } = await asc.main(['head-stats.ts', ...ASC_FLAGS, '--outFile', 'out.wasm', '--textFile', 'out.wat'], {
    readFile: (name: string) => (name === 'head-stats.ts' ? source : null),
    writeFile: (name: string, contents: Uint8Array | string) => { outputs.set(name, contents); },
    listFiles: () => [],
  });
  if (error) throw new Error(`AssemblyScript failed to compile ${HEAD_STATS_SOURCE}:\n${stderr.toString()}`);
  const wasm = outputs.get('out.wasm');
  const wat = outputs.get('out.wat');
  if (!(wasm instanceof Uint8Array) || typeof wat !== 'string') throw new Error('AssemblyScript produced no output');
  if (/\(data |\(start /.test(wat)) throw new Error('the kernel module must not have data segments or a start function');
  return { wasm, wat };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { wasm } = await compileHeadStats();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(HEAD_STATS_WASM);
    const same = committed.length === wasm.length && committed.every((b, i) => b === wasm[i]);
    console.log(same ? 'head-stats.wasm is up to date' : 'head-stats.wasm is stale: rebuild it');
    process.exit(same ? 0 : 1);
  }
  writeFileSync(HEAD_STATS_WASM, wasm);
  const record: BuildRecord = { source: 'head-stats.as', sourceSha256: sha256(readFileSync(HEAD_STATS_SOURCE)), wasmSha256: sha256(wasm), flags: ASC_FLAGS };
  writeFileSync(HEAD_STATS_BUILD_RECORD, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${HEAD_STATS_WASM} (${wasm.length} bytes) and ${HEAD_STATS_BUILD_RECORD}`);
}
