// Builds head-stats.wasm from the AssemblyScript source head-stats.as. AssemblyScript is a dev dependency of the
// workspace (hoisted from @hifi/engine); the runtime only reads the committed .wasm. Run after editing the .as file:
//   node --import tsx packages/hifi/src/kernels/build-head-stats.ts          (writes head-stats.wasm + .build.json)
//   node --import tsx packages/hifi/src/kernels/build-head-stats.ts --check  (recompiles; exit 1 if the binary is stale)
// head-stats.build.json records the SHA-256 of the source and of the binary it produced. The engine's
// assemblyscript-build.ts does the work (imported by path: the engine's index does not load the compiler).
import { fileURLToPath } from 'node:url';
import { compileKernel, kernelFiles, runKernelBuild } from '@hifi/engine/kernels/assemblyscript-build.ts';

export { ASC_FLAGS, sha256, type BuildRecord } from '@hifi/engine/kernels/assemblyscript-build.ts';

const files = kernelFiles(import.meta.url, 'head-stats');
export const HEAD_STATS_SOURCE = files.source;
export const HEAD_STATS_WASM = files.wasm;
export const HEAD_STATS_BUILD_RECORD = files.buildRecord;

/** Compiles the kernel source to a wasm binary (and its text form, for reading). */
export const compileHeadStats = (source?: string) => compileKernel(HEAD_STATS_SOURCE, source);

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await runKernelBuild(files, process.argv.slice(2));
