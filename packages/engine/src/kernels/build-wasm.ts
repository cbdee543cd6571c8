// Builds hifi-kernels.wasm from the AssemblyScript source hifi-kernels.as (AssemblyScript is a dev dependency; the
// runtime only reads the committed .wasm). Run after editing the .as file:
//   node --import tsx packages/engine/src/kernels/build-wasm.ts          (writes hifi-kernels.wasm + .build.json)
//   node --import tsx packages/engine/src/kernels/build-wasm.ts --check  (recompiles; exit 1 if the binary is stale)
// hifi-kernels.build.json records the SHA-256 of the source and of the binary it produced (see
// assemblyscript-build.ts, which does the work for this script and the hifi package's build-head-stats.ts).
import { fileURLToPath } from 'node:url';
import { compileKernel, kernelFiles, runKernelBuild } from './assemblyscript-build.ts';

export { sha256, type BuildRecord } from './assemblyscript-build.ts';

const files = kernelFiles(import.meta.url, 'hifi-kernels');
export const KERNELS_SOURCE = files.source;
export const KERNELS_WASM = files.wasm;
export const KERNELS_BUILD_RECORD = files.buildRecord;

/** Compiles the kernel source to a wasm binary (and its text form, for reading). */
export const compileKernels = (source?: string) => compileKernel(KERNELS_SOURCE, source);

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runKernelBuild(files, process.argv.slice(2));
