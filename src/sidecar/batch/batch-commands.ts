import type { JobSystem } from '../../common/protocol';
import { requireSuccess, run, type CommandResult } from '../process/run';
import { FINISHED, parseQstatJson, parseSqueueJson, type JobStatus } from './job-states';

/** The batch system's commands, run with execa: arguments are never joined into a shell line. */
export interface BatchCommands {
  /** Submits a job script; resolves to the job id. */
  submit(scriptPath: string, workingDirectory: string): Promise<string>;
  /** The state of each job asked about (and why a queued one waits); a job the system no longer knows has finished. */
  states(jobIds: string[]): Promise<Map<string, JobStatus>>;
  cancel(jobIds: string[]): Promise<void>;
}

/**
 * The environment a worker job inherits: this user's, without the identity of the job we run
 * in (its SLURM_TMPDIR or TMPDIR would point the new job's spill at this node's disk).
 */
export function submissionEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const kept = Object.entries(env).filter(
    ([name]) => name === 'SLURM_CONF' || !(/^(SLURM_|SBATCH_|PBS_)/.test(name) || name === 'TMPDIR' || name === 'DASK_HPC_SIDECAR_SOCKET')
  );
  return Object.fromEntries(kept) as Record<string, string>;
}

/** A batch command, with the submission environment. */
function runBatch(argv: string[], cwd?: string): Promise<CommandResult> {
  return run(argv, { cwd, env: submissionEnvironment(process.env) });
}

const slurm: BatchCommands = {
  async submit(scriptPath, cwd) {
    const result = await runBatch(['sbatch', '--parsable', scriptPath], cwd);
    requireSuccess(result);
    return result.stdout.trim().split(';')[0]; // "id" or "id;cluster"
  },
  async states(jobIds) {
    // Only this user's jobs, then ours among them: --jobs fails as a whole once one id has left.
    const result = await runBatch(['squeue', '--json', '--me']);
    requireSuccess(result);
    const known = parseSqueueJson(result.stdout);
    return new Map(jobIds.map(id => [id, known.get(id) ?? FINISHED]));
  },
  async cancel(jobIds) {
    if (!jobIds.length) return;
    const result = await runBatch(['scancel', ...jobIds]);
    // A job that has already left the queue is what we wanted.
    if (result.exitCode !== 0 && !/Invalid job id|already completing or completed/i.test(result.stderr)) {
      requireSuccess(result);
    }
  }
};

/** `qstat -f -F json -x ID…`: the states PBS printed; -x includes finished jobs. */
async function qstatJson(jobIds: string[]): Promise<Map<string, JobStatus>> {
  const result = await runBatch(['qstat', '-f', '-F', 'json', '-x', ...jobIds]);
  // An id PBS has forgotten is reported on stderr, the rest still as JSON; a server that cannot
  // be reached prints JSON without "Jobs": that says nothing about our jobs.
  if (result.exitCode !== 0 && !result.stdout.includes('"Jobs"')) requireSuccess(result);
  return parseQstatJson(result.stdout);
}

const pbs: BatchCommands = {
  async submit(scriptPath, cwd) {
    // -f: no background qsub daemon, which would outlive us holding our environment.
    const result = await runBatch(['qsub', '-f', scriptPath], cwd);
    requireSuccess(result);
    return result.stdout.trim();
  },
  async states(jobIds) {
    if (!jobIds.length) return new Map();
    const known = await qstatJson(jobIds);
    // OpenPBS 23.06 prints only the first of several ids with -F json (openpbs/openpbs#2672):
    // an id missing from a joint answer is asked about alone before it counts as finished.
    const missing = jobIds.length > 1 ? jobIds.filter(id => !known.has(id)) : [];
    for (const answer of await Promise.all(missing.map(id => qstatJson([id])))) {
      for (const [id, status] of answer) known.set(id, status);
    }
    return new Map(jobIds.map(id => [id, known.get(id) ?? FINISHED]));
  },
  async cancel(jobIds) {
    if (!jobIds.length) return;
    const result = await runBatch(['qdel', ...jobIds]);
    // qdel exits non-zero for jobs that have already finished: that is what we wanted.
    if (result.exitCode !== 0 && !/Unknown Job Id|has finished|Request invalid for state/i.test(result.stderr)) {
      requireSuccess(result);
    }
  }
};

export function batchCommands(system: JobSystem): BatchCommands {
  return system === 'slurm' ? slurm : pbs;
}
