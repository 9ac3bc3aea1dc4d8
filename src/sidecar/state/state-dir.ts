import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Environment } from '../node/detect';

/** $DASK_HPC_STATE_DIR, else $XDG_STATE_HOME/dask-hpc, else ~/.local/state/dask-hpc. */
export function defaultStateDir(env: Environment): string {
  if (env.DASK_HPC_STATE_DIR) return env.DASK_HPC_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'dask-hpc');
}
