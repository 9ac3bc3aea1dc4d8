import { execaSync } from 'execa';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { JobSystem } from '../../common/protocol';
import type { Environment } from '../node/detect';
import { InputError } from '../errors';
import { parsePbsNodefile, type AllocationNode } from './node-launcher';

/** The nodes of the job we run in, in the batch system's order: PBS_NODEFILE, or Slurm's node list. */
export function allocationNodes(system: JobSystem, env: Environment): AllocationNode[] {
  if (system === 'pbs') {
    if (!env.PBS_NODEFILE) throw new InputError('runner', 'PBS_NODEFILE is not set: this is not inside a PBS job');
    let text: string;
    try {
      text = readFileSync(env.PBS_NODEFILE, 'utf8');
    } catch (error) {
      throw new InputError('runner', `PBS_NODEFILE=${env.PBS_NODEFILE} cannot be read: ${(error as Error).message}`);
    }
    return parsePbsNodefile(text, env.PBS_NODEFILE);
  }
  const list = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  if (!list) return [{ host: hostname().split('.')[0], index: 0 }];
  // scontrol expands Slurm's compressed lists (n[001-004,010]) the one right way.
  const expanded = execaSync('scontrol', ['show', 'hostnames', list], { reject: false });
  if (expanded.exitCode !== 0) {
    throw new InputError('runner', `scontrol cannot expand SLURM_JOB_NODELIST=${JSON.stringify(list)}: ${String(expanded.stderr).trim()}`);
  }
  return String(expanded.stdout)
    .split('\n')
    .filter(Boolean)
    .map((host, index) => ({ host, index }));
}
