// Builds hifi-kernels.wasm from the AssemblyScript source hifi-kernels.as (AssemblyScript is a dev dependency; the
// runtime only reads the committed .wasm). Run after editing the .as file:
//   node --import tsx packages/engine/src/kernels/build-wasm.ts          (writes hifi-kernels.wasm + .build.json)
//   node --import tsx packages/engine/src/kernels/build-wasm.ts --check  (recompiles; exit 1 if the binary is stale)
// hifi-kernels.build.json records the SHA-256 of the source and of the binary it produced, so a quick test can tell
// that neither changed without the other (the full recompilation takes seconds).
// The source keeps the .as extension so that the repository's TypeScript check does not read it as TypeScript;
// the compiler is handed its text under a .ts name.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KERNELS_SOURCE = fileURLToPath(new URL('./hifi-kernels.as', import.meta.url));
export const KERNELS_WASM = fileURLToPath(new URL('./hifi-kernels.wasm', import.meta.url));
export const KERNELS_BUILD_RECORD = fileURLToPath(new URL('./hifi-kernels.build.json', import.meta.url));

export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

export interface BuildRecord { source: string; sourceSha256: string; wasmSha256: string; flags: string[] }

const ASC_FLAGS = ['-O3', '--runtime', 'stub', '--importMemory', '--noAssert', '--enable', 'simd', '--noExportMemory'];

/** The part of the AssemblyScript compiler API used here (its own typings pull in AssemblyScript's std library types). */
interface AscApi {
  main(argv: string[], options: {
    readFile(name: string): string | null;
    writeFile(name: string, contents: Uint8Array | string): void;
    listFiles(): string[];
  }): Promise<{ error: Error | null; stderr: { toString(): string } }>;
}
const ASC_MODULE = 'assemblyscript/asc';

/** Compiles the kernel source to a wasm binary (and its text form, for reading). */
export async function compileKernels(source = readFileSync(KERNELS_SOURCE, 'utf8')): Promise<{ wasm: Uint8Array; wat: string }> {
  const { default: asc } = (await import(ASC_MODULE)) as { default: AscApi };
  const outputs = new Map<string, Uint8Array | string>();
  const { error, stderr } = await asc.main(['hifi-kernels.ts', ...ASC_FLAGS, '--outFile', 'out.wasm', '--textFile', 'out.wat'], {
    readFile: (name: string) => (name === 'hifi-kernels.ts' ? source : null),
    writeFile: (name: string, contents: Uint8Array | string) => { outputs.set(name, contents); },
    listFiles: () => [],
  });
  if (error) throw new Error(`AssemblyScript failed to compile ${KERNELS_SOURCE}:\n${stderr.toString()}`);
  const wasm = outputs.get('out.wasm');
  const wat = outputs.get('out.wat');
  if (!(wasm instanceof Uint8Array) || typeof wat !== 'string') throw new Error('AssemblyScript produced no output');
  // The module shares the tfjs heap: it must not carry data segments or a start function that would write into it.
  if (/\(data |\(start /.test(wat)) throw new Error('kernel module must not have data segments or a start function');
  return { wasm, wat };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { wasm } = await compileKernels();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(KERNELS_WASM);
    const same = committed.length === wasm.length && committed.every((b, i) => b === wasm[i]);
    console.log(same ? 'hifi-kernels.wasm is up to date' : 'hifi-kernels.wasm is stale: rebuild it');
    process.exit(same ? 0 : 1);
  }
  writeFileSync(KERNELS_WASM, wasm);
  const record: BuildRecord = { source: 'hifi-kernels.as', sourceSha256: sha256(readFileSync(KERNELS_SOURCE)), wasmSha256: sha256(wasm), flags: ASC_FLAGS };
  writeFileSync(KERNELS_BUILD_RECORD, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${KERNELS_WASM} (${wasm.length} bytes) and ${KERNELS_BUILD_RECORD}`);
}
