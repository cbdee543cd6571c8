// Building a committed WebAssembly kernel from its AssemblyScript source, shared by the engine's build-wasm.ts and
// the hifi package's build-head-stats.ts. Build scripts only: imported by path
// (`@hifi/engine/kernels/assemblyscript-build.ts`), never from the engine's index, so that production code does not
// load the AssemblyScript compiler (a dev dependency; the runtime only reads the committed .wasm).
// A kernel NAME is three files side by side:
//   NAME.as          the source; it keeps the .as extension so that the repository's TypeScript check does not read
//                    it as TypeScript (the compiler is handed its text under the name NAME.ts)
//   NAME.wasm        the binary the runtime loads
//   NAME.build.json  the SHA-256 of the source and of the binary it produced, so a quick test can tell that neither
//                    changed without the other (a full recompilation takes seconds)
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

export interface BuildRecord { source: string; sourceSha256: string; wasmSha256: string; flags: string[] }

export const ASC_FLAGS = ['-O3', '--runtime', 'stub', '--importMemory', '--noAssert', '--enable', 'simd', '--noExportMemory'];

/** Absolute paths of one kernel's source, binary and build record. */
export interface KernelFiles { source: string; wasm: string; buildRecord: string }

/** The files of kernel `name` in the folder of the module at `moduleUrl` (pass `import.meta.url`). */
export function kernelFiles(moduleUrl: string, name: string): KernelFiles {
  const path = (ending: string) => fileURLToPath(new URL(`./${name}${ending}`, moduleUrl));
  return { source: path('.as'), wasm: path('.wasm'), buildRecord: path('.build.json') };
}

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

/**
 * Compiles an AssemblyScript kernel to a wasm binary (and its text form, for reading). `sourcePath` names the file
 * in messages and gives the compiler its module name; `source` defaults to that file's text.
 */
export async function compileKernel(sourcePath: string, source = readFileSync(sourcePath, 'utf8')): Promise<{ wasm: Uint8Array; wat: string }> {
  const { default: asc } = (await import(ASC_MODULE)) as { default: AscApi };
  const entry = `${basename(sourcePath, '.as')}.ts`;
  const outputs = new Map<string, Uint8Array | string>();
  const { error, stderr } = await asc.main([entry, ...ASC_FLAGS, '--outFile', 'out.wasm', '--textFile', 'out.wat'], {
    readFile: (name: string) => (name === entry ? source : null),
    writeFile: (name: string, contents: Uint8Array | string) => { outputs.set(name, contents); },
    listFiles: () => [],
  });
  if (error) throw new Error(`AssemblyScript failed to compile ${sourcePath}:\n${stderr.toString()}`);
  const wasm = outputs.get('out.wasm');
  const wat = outputs.get('out.wat');
  if (!(wasm instanceof Uint8Array) || typeof wat !== 'string') throw new Error('AssemblyScript produced no output');
  // The module shares the tfjs heap: it must not carry data segments or a start function that would write into it.
  if (/\(data |\(start /.test(wat)) throw new Error(`${sourcePath}: the kernel module must not have data segments or a start function`);
  return { wasm, wat };
}

/**
 * The command line of a kernel build script. Without arguments: compiles the source, writes the binary and its build
 * record, returns 0. With `--check`: compiles and compares with the committed binary, writing nothing; returns 0 when
 * they are the same bytes, 1 when the binary is stale.
 */
export async function runKernelBuild(files: KernelFiles, args: readonly string[]): Promise<number> {
  const { wasm } = await compileKernel(files.source);
  const wasmName = basename(files.wasm);
  if (args.includes('--check')) {
    const committed = readFileSync(files.wasm);
    const same = committed.length === wasm.length && committed.every((b, i) => b === wasm[i]);
    console.log(same ? `${wasmName} is up to date` : `${wasmName} is stale: rebuild it`);
    return same ? 0 : 1;
  }
  writeFileSync(files.wasm, wasm);
  const record: BuildRecord = { source: basename(files.source), sourceSha256: sha256(readFileSync(files.source)), wasmSha256: sha256(wasm), flags: ASC_FLAGS };
  writeFileSync(files.buildRecord, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${files.wasm} (${wasm.length} bytes) and ${files.buildRecord}`);
  return 0;
}
