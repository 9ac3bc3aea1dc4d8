/**
 * The `dask-hpc` command (lib/dask-hpc.mjs), a few lines beside the engine (lib/dask-hpc-engine.mjs,
 * entry engine-main.ts). `up --detach` starts its owner without loading the engine here first,
 * which the owner loads anyway (startup/README.md); every other command loads the engine, which runs it.
 */
import { fileURLToPath } from 'node:url';
import { upDetached } from './startup/detach';
import { errorLine, InputError } from './errors';
import { runtimeDir } from './state/runtime-dir';

const ENGINE = new URL('./dask-hpc-engine.mjs', import.meta.url);
const args = process.argv.slice(2);

if (args[0] === 'up' && args.includes('--detach')) {
  let directory: string | null = null;
  try {
    directory = runtimeDir(process.env); // the owner's log waits there: this node's, as the owner is
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    process.stderr.write(errorLine(error.message));
    process.exitCode = 2;
  }
  if (directory) {
    process.exitCode = await upDetached(
      args.slice(1).filter(arg => arg !== '--detach'),
      fileURLToPath(ENGINE),
      directory
    );
  }
} else {
  await import(ENGINE.href);
}
