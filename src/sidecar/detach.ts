import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';

/**
 * V8 flags for an owner that lives as long as its clusters (a detached `up`, the sidecar):
 * it answers a few requests a second, so no optimizing compiler and a small young
 * generation, 53 MB resident instead of 59-61 (measured; jupyterlab_dask_hpc/app.py passes
 * the same). Not --lite-mode: it turns WebAssembly off, which fetch() needs.
 */
export const OWNER_NODE_FLAGS = ['--no-opt', '--max-semi-space-size=1'];

/**
 * `up --detach`: the owner (`engineScript up ARGS`) runs on in its own session; this prints
 * its cluster once it is ready, or its error and exit status.
 */
export async function upDetached(args: string[], engineScript: string, stateDir: string): Promise<number> {
  const logPath = `${stateDir}/owner-${process.pid}.log`;
  const child = spawn(process.execPath, [...OWNER_NODE_FLAGS, engineScript, 'up', ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', openSync(logPath, 'w', 0o600)]
  });
  let output = '';
  const childOut = child.stdout!;
  childOut.on('data', chunk => (output += chunk));
  const outcome = await new Promise<'ready' | number>(resolve => {
    childOut.on('data', () => {
      if (/^}\s*$/m.test(output)) resolve('ready'); // the description is printed whole, then nothing more
    });
    child.on('exit', code => resolve(code ?? 1));
  });
  if (outcome === 'ready') {
    process.stdout.write(output);
    childOut.destroy();
    child.unref();
    rmSync(logPath, { force: true });
    return 0;
  }
  process.stderr.write(readFileSync(logPath, 'utf8'));
  rmSync(logPath, { force: true });
  return outcome;
}
