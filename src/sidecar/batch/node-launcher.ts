import type { JobSystem } from '../../common/protocol';
import { InputError } from '../errors';

/** One node of the current allocation, as the batch system's launcher addresses it. */
export interface AllocationNode {
  host: string;
  /** pbsdsh -n: the node's first line in PBS_NODEFILE (one line per core on many sites). */
  index: number;
}

/** PBS_NODEFILE's hosts, each once, with the line pbsdsh -n addresses it by. */
export function parsePbsNodefile(text: string, path: string): AllocationNode[] {
  const nodes: AllocationNode[] = [];
  text.split('\n').forEach((line, index) => {
    const host = line.trim();
    if (host && !nodes.some(node => node.host === host)) nodes.push({ host, index });
  });
  if (nodes.length === 0) throw new InputError('runner', `PBS_NODEFILE=${path} lists no nodes`);
  return nodes;
}

/**
 * The command that starts one node's workers on that node, inside this allocation, as the
 * seeds do by hand (seed 001's pbsdsh, SLURMRunner's srun), with argument lists only.
 * pbsdsh passes no environment, so the workers' variables travel through env(1).
 */
export function nodeLauncher(system: JobSystem, node: AllocationNode, cores: number, env: Record<string, string>): string[] {
  if (system === 'slurm') {
    return [
      'srun',
      '--nodes=1',
      '--ntasks=1',
      `--nodelist=${node.host}`,
      `--cpus-per-task=${cores}`,
      '--overlap',
      '--kill-on-bad-exit=0',
      '--quiet'
    ];
  }
  return ['pbsdsh', '-n', String(node.index), '--', '/usr/bin/env', ...Object.entries(env).map(([name, value]) => `${name}=${value}`)];
}

export const LAUNCH_COMMAND: Record<JobSystem, string> = { slurm: 'srun', pbs: 'pbsdsh' };
