import type { ClusterSecurity, WorkerJobSpec } from '../../common/protocol';
import { tlsFlags } from '../tls/cluster-tls';
import { clusterEnvironment } from '../cluster/cluster-environment';
import { workerArgs } from '../cluster/worker-args';
import { MiB } from '../node/units';
import { JOB_FILESYSTEM_CANDIDATES, walltimeSeconds } from '../requests/job-request';
import { privateRootName } from '../state/private-directory';
import { jobRootLines } from './private-root-shell';
import { jobNodes } from '../../common/worker-count';
import { jobDefaultComments } from '../requests/job-defaults';

/** What one submitted job needs besides its spec. */
export interface JobContext {
  clusterId: string;
  /** The batch system's job name (short: PBS keeps 15 characters on some sites). */
  jobName: string;
  /** The Dask worker name; with several workers per job, dask adds -0, -1, … */
  workerName: string;
  schedulerAddress: string;
  /** The client's Python, used everywhere (seed 002). */
  python: string;
  /** Where the job's output goes: on a filesystem the login and compute nodes share. */
  logFile: string;
  /** The cluster's TLS files, on the same shared filesystem (the workers present them). */
  security: ClusterSecurity;
}

/** Single quotes for the shell: the value stays one word, whatever it holds. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A word as the shell reads it: bare if nothing in it is special, single-quoted otherwise. */
const shellWord = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : shellQuote(value));

const mib = (bytes: number) => Math.max(1, Math.ceil(bytes / MiB));

/**
 * Workers retire this long before the walltime, so their data moves to others before the
 * batch system kills the job: 10% of the walltime, from 1 to 10 minutes.
 */
export function retireMarginSeconds(walltime: string): number {
  return Math.min(600, Math.max(60, Math.floor(walltimeSeconds(walltime) * 0.1)));
}

/** A worker job's workers' `--lifetime` and `--lifetime-stagger`, in seconds: each retires within lifetime ± stagger of its start. */
export function workerLifetime(walltime: string): { lifetime: number; stagger: number } {
  const margin = retireMarginSeconds(walltime);
  return { lifetime: walltimeSeconds(walltime) - margin, stagger: Math.floor(margin / 4) };
}

function directives(spec: WorkerJobSpec, context: JobContext): string[] {
  const nodes = jobNodes(spec);
  const memory = `${mib(spec.memory_bytes)}MB`;
  if (spec.system === 'slurm') {
    // --mem and --tmp are per node in Slurm; one task per host runs that host's workers.
    return [
      `#SBATCH --job-name=${context.jobName}`,
      `#SBATCH --nodes=${nodes}`,
      ...(nodes > 1 ? [`#SBATCH --ntasks=${nodes}`, '#SBATCH --ntasks-per-node=1'] : ['#SBATCH --ntasks=1']),
      `#SBATCH --cpus-per-task=${spec.cores}`,
      `#SBATCH --mem=${mib(spec.memory_bytes)}M`,
      `#SBATCH --time=${spec.walltime}`,
      ...(spec.queue ? [`#SBATCH --partition=${spec.queue}`] : []),
      ...(spec.account ? [`#SBATCH --account=${spec.account}`] : []),
      ...(spec.jobfs_bytes ? [`#SBATCH --tmp=${mib(spec.jobfs_bytes)}M`] : []),
      `#SBATCH --output=${context.logFile}`
    ];
  }
  const common = [`#PBS -N ${context.jobName}`, ...(spec.queue ? [`#PBS -q ${spec.queue}`] : [])];
  const tail = [`#PBS -l walltime=${spec.walltime}`, '#PBS -j oe', `#PBS -o ${context.logFile}`];
  if (spec.dialect === 'gadi') {
    // Gadi: -P project, resources one by one for the whole job (spread evenly over its whole
    // nodes), no select (seed 004's job_directives_skip).
    return [
      ...common,
      ...(spec.account ? [`#PBS -P ${spec.account}`] : []),
      `#PBS -l ncpus=${spec.cores * nodes}`,
      `#PBS -l mem=${mib(spec.memory_bytes) * nodes}MB`,
      ...(spec.jobfs_bytes ? [`#PBS -l jobfs=${mib(spec.jobfs_bytes) * nodes}MB`] : []),
      ...(spec.storage ? [`#PBS -l storage=${spec.storage}`] : []),
      ...tail,
      '#PBS -l wd'
    ];
  }
  return [
    ...common,
    ...(spec.account ? [`#PBS -A ${spec.account}`] : []),
    `#PBS -l select=${nodes}:ncpus=${spec.cores}:mem=${memory}`,
    // One chunk per host: a job of several nodes is several hosts' workers.
    ...(nodes > 1 ? ['#PBS -l place=scatter'] : []),
    ...tail
  ];
}

/**
 * The interface is a preference (Gadi's ib0), used on the hosts that have it: the scheduler's
 * own may not exist where the job lands (pbsbr0, slurmbr0, eth1, …), and dask worker exits at
 * once on an unknown one. Elsewhere the worker connects to the scheduler's address by the route
 * that reaches it. The test is Dask's own (psutil's interfaces of this network namespace):
 * /sys/class/net shows the interfaces of whoever mounted sysfs, which in a container or a
 * network namespace without its own mount may be another host's.
 */
function interfacePreference(python: string, name: string | null): string[] {
  if (!name) return ['worker_interface=()'];
  const quoted = shellQuote(name);
  const present = `${shellQuote(python)} -c 'import sys, psutil; sys.exit(sys.argv[1] not in psutil.net_if_addrs())' ${quoted}`;
  return ['worker_interface=()', `if ${present}; then worker_interface=(--interface ${quoted}); fi`];
}

/** Ends the heredoc that carries a job's per-host part: no prologue line can be it (prologue.ts allows none of one word). */
const HOST_PART_END = 'DASK_HPC_HOST_PART';

/**
 * A job of several hosts starts each host's workers from the first host, one task per host
 * inside the job (PBS: pbs_tmrsh, which, unlike pbsdsh, returns the task's exit status;
 * Slurm: one srun step of a task per node). Workers that retire at their lifetime exit 0 and
 * the others go on; a host whose workers fail ends the job, and the batch system ends the
 * rest: the cluster replaces the job as it would a job that ended. The per-host lines travel
 * as one line (`eval $'…'`): a task's arguments are cut at the first newline (TM).
 */
function hostLaunch(spec: WorkerJobSpec): string[] {
  const nodes = jobNodes(spec);
  const oneLine = 'host_command="eval $(printf %q "$host_part")"';
  const start =
    spec.system === 'slurm'
      ? [
          `srun --nodes=${nodes} --ntasks=${nodes} --ntasks-per-node=1 --cpus-per-task=${spec.cores} --kill-on-bad-exit=1 /bin/bash -c "$host_command" host-part &`,
          'host_tasks=($!)'
        ]
      : [
          // PBS_NODEFILE may list a host once per core (Gadi): each host once, in order.
          'host_tasks=(); host_number=0',
          `for host in $(awk '!seen[$0]++' "$PBS_NODEFILE"); do`,
          '  pbs_tmrsh "$host" /bin/bash -c "$host_command" host-part "$host_number" &',
          '  host_tasks+=($!); host_number=$((host_number + 1))',
          'done'
        ];
  return [
    oneLine,
    ...start,
    'for _ in "${host_tasks[@]}"; do',
    '  wait -n; status=$?',
    '  if [ "$status" -ne 0 ]; then',
    `    echo "dask-hpc: the workers of one host of this job ended (exit $status): ending the job" >&2`,
    '    exit "$status"',
    '  fi',
    'done'
  ];
}

/**
 * The job script of one worker job: directives, the user's prologue, then `dask worker`
 * with the job's plan, its local directory on the job's own node-local disk (removed at the
 * end), and a lifetime that retires the workers before the walltime. Every value comes from
 * a checked spec; the ones that could hold anything are single-quoted. A job of several
 * hosts runs the same lines on each host, its workers named NAME-0, NAME-1, … by host.
 */
export function renderJobScript(spec: WorkerJobSpec, context: JobContext): string {
  const { plan } = spec;
  const multiHost = jobNodes(spec) > 1;
  const { lifetime, stagger } = workerLifetime(spec.walltime);
  const environment = Object.entries(clusterEnvironment(plan, '\0')).map(([name, value]) =>
    value === '\0' ? `export ${name}="$local_dir"` : `export ${name}=${shellQuote(value)}`
  );
  // The arguments every placement shares (cluster/worker-args.ts), quoted for the shell; the
  // local directory is the job's own, known only on its host.
  const LOCAL_DIR = '\0local_dir';
  const sharedArgs = workerArgs(plan, LOCAL_DIR).map(arg => (arg === LOCAL_DIR ? '"$local_dir"' : shellWord(arg)));
  const worker = [
    shellQuote(context.python),
    '-m',
    'distributed.cli.dask_worker',
    shellQuote(context.schedulerAddress),
    '--name',
    multiHost ? `${shellQuote(context.workerName)}-"$host_number"` : shellQuote(context.workerName),
    '--nworkers',
    String(plan.n_workers),
    ...sharedArgs,
    ...tlsFlags(context.security).map((flag, i) => (i % 2 ? shellQuote(flag) : flag)),
    '"${worker_interface[@]}"',
    '--lifetime',
    `${lifetime}s`,
    '--lifetime-stagger',
    `${stagger}s`
  ];
  const localName = multiHost ? `${context.clusterId}-${context.workerName}-$host_number` : `${context.clusterId}-${context.workerName}`;
  const onEachHost = [
    ...(spec.prologue.length ? ['# prologue', ...spec.prologue] : []),
    '',
    // The root is this user's on a disk others may share (/tmp): under the first candidate no other user can rearrange, made 0700, used only if no one else owns or can write it.
    ...jobRootLines(JOB_FILESYSTEM_CANDIDATES[spec.system], privateRootName()),
    `local_dir="$local_root/${localName}"`,
    '(umask 077 && mkdir -p "$local_dir")',
    `trap 'rm -rf "$local_dir"' EXIT`,
    ...interfacePreference(context.python, spec.interface),
    ...environment,
    worker.join(' ')
  ];
  const header = [
    '#!/bin/bash',
    ...directives(spec, context),
    '',
    `# dask-hpc worker job of cluster ${context.clusterId}: ${plan.n_workers} worker(s) × ${plan.threads_per_worker} thread(s), ${mib(plan.memory_limit_bytes)} MiB each` +
      (multiHost ? `, on each of ${jobNodes(spec)} hosts` : ''),
    ...jobDefaultComments(spec.from_job)
  ];
  if (!multiHost) return [...header, ...onEachHost, ''].join('\n');
  return [
    ...header,
    '',
    '# What each host runs: the host number is the first argument (Slurm: the node id).',
    `IFS= read -r -d '' host_part <<'${HOST_PART_END}'`,
    'host_number="${1:-${SLURM_NODEID:-0}}"',
    ...onEachHost,
    HOST_PART_END,
    ...hostLaunch(spec),
    ''
  ].join('\n');
}
