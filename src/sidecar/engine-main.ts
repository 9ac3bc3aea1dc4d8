/**
 * The engine's entry (lib/dask-hpc-engine.mjs), loaded by the command (main.ts): restores what
 * the command's start left aside (startup/README.md), then runs the command line.
 */
import { fileURLToPath } from 'node:url';
import { main } from './cli/commands';
import { restoreDeferredVariables } from './startup/node-start-env';

restoreDeferredVariables(process.env);
void main(process.argv.slice(2), fileURLToPath(import.meta.url)).then(code => {
  process.exitCode = code;
});
