import { execa, type ResultPromise } from 'execa';
import type { ClusterState } from '../../common/protocol';
import { InputError } from '../errors';
import { checkSocketFlag, baseUrlFlag, ownerFlags, type FlagValues } from '../requests/flag-checks';
import { checkPython } from '../requests/python-check';
import { ClusterOwner } from '../server/cluster-owner';
import { upDetached } from '../startup/detach';
import { tlsEnvironment } from '../tls/cluster-tls';
import { env, store } from './environment';
import { asFlagError, jobBodyFromFlags, OWNER_FLAGS, planBodyFromFlags } from './flags';
import { printJson } from './output';
import {
  atTime,
  COMMAND_GRACE_MS,
  deadlineEnvironment,
  EXIT_WALLTIME,
  retireMessage,
  runDeadline,
  tooLateMessage,
  type RunDeadline
} from './walltime-guard';
import { parse, UsageError } from './parse';

// The commands whose process owns clusters: up, run, serve; and job-script, which plans one.

function ownerOptions(values: FlagValues, controlSocket: string | null) {
  return { env, ...ownerFlags(values), controlSocket };
}

/** The cluster request body the flags describe: the plan's fields, a name, worker jobs. */
function clusterBody(values: FlagValues): Record<string, unknown> {
  const body: Record<string, unknown> = planBodyFromFlags(values);
  if (values.name !== undefined) body.name = values.name;
  const jobs = jobBodyFromFlags(values);
  if (jobs) body.worker_jobs = jobs;
  if (values.runner) body.runner = true;
  return body;
}

function clusterRequest(owner: ClusterOwner, values: FlagValues) {
  try {
    return owner.engine.checkClusterRequest(clusterBody(values));
  } catch (error) {
    throw error instanceof InputError ? asFlagError(error) : error;
  }
}

export async function up(args: string[], engineScript: string): Promise<number> {
  const { values } = parse(args, { ...OWNER_FLAGS, detach: { type: 'boolean' }, 'exit-with-stdin': { type: 'boolean' } });
  if (values.detach && values['exit-with-stdin']) throw new UsageError('--detach and --exit-with-stdin contradict each other: choose one');
  if (values.detach) {
    return upDetached(
      args.filter(arg => arg !== '--detach'),
      engineScript,
      store().runtimeDir
    );
  }
  const state = store();
  // The id is not known before the cluster exists, so the owner's socket is named by its pid (on this node: its runtime directory).
  const owner = new ClusterOwner(state, ownerOptions(values, `${state.runtimeDir}/owner-${process.pid}.sock`));
  const request = clusterRequest(owner, values);
  await checkPython(owner.engine.options.python, env);
  await owner.listen();
  owner.shutdownOnSignals(() => process.exit(0));
  // The Python process that started us holds our stdin (setup_dask_client): when it ends, even
  // by SIGKILL, its cluster goes too.
  if (values['exit-with-stdin']) {
    exitWithStdin();
    sayWhenStopping(owner);
  }
  printJson(await owner.startCluster(request));
  // Stay while the cluster lives: `down` from elsewhere, a signal, or the scheduler's death end it.
  await new Promise<void>(resolve => {
    owner.engine.on('event', event => {
      if (event.type === 'cluster-removed' || (event.type === 'cluster' && event.cluster.status === 'failed')) resolve();
    });
  });
  const failed = owner.engine.list().find(c => c.status === 'failed');
  await owner.shutdown();
  if (failed) {
    process.stderr.write(`dask-hpc: cluster ${failed.id} failed: ${failed.error}\n`);
    return 1;
  }
  return 0;
}

/** The variables that make `distributed.Client()` with no arguments reach the cluster. */
export function clientEnvironment(cluster: ClusterState): Record<string, string> {
  return {
    DASK_SCHEDULER_ADDRESS: cluster.scheduler_address ?? '',
    DASK_HPC_CLUSTER_ID: cluster.id,
    DASK_HPC_SCHEDULER_FILE: cluster.scheduler_file,
    DASK_HPC_LOCAL_DIRECTORY: cluster.local_directory,
    ...(cluster.security ? tlsEnvironment(cluster.security, 'client') : {})
  };
}

export async function run(args: string[]): Promise<number> {
  const separator = args.indexOf('--');
  if (separator === -1 || separator === args.length - 1) {
    throw new UsageError('run needs a command after --, as in: dask-hpc run -- python script.py');
  }
  const { values } = parse(args.slice(0, separator), OWNER_FLAGS);
  const command = args.slice(separator + 1);
  const owner = new ClusterOwner(store(), ownerOptions(values, null));
  const request = clusterRequest(owner, values);
  await checkPython(owner.engine.options.python, env);
  // Inside a batch job with a known end: stop cleanly before the batch system kills everything.
  const deadline = runDeadline(owner.engine.resources().job, Date.now());
  if (deadline && deadline.retireAtMs <= Date.now()) {
    process.stderr.write(tooLateMessage(deadline, Date.now()));
    return EXIT_WALLTIME;
  }
  const cluster = await owner.startCluster(request);
  const child = execa(command[0], command.slice(1), {
    env: { ...clientEnvironment(cluster), ...deadlineEnvironment(deadline) },
    stdio: 'inherit',
    reject: false
  });
  // Signals for us go to the command first; the cluster is stopped when it has ended.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  let stoppedForWalltime = false;
  const cancel = deadline
    ? atTime(deadline.retireAtMs, () => {
        stoppedForWalltime = true;
        void stopBeforeTheEnd(owner, cluster.id, child, deadline, command[0]);
      })
    : () => undefined;
  const result = await child;
  cancel();
  await owner.shutdown();
  if (stoppedForWalltime) return EXIT_WALLTIME;
  if (result.failed && result.exitCode === undefined && !result.signal) {
    process.stderr.write(`dask-hpc: cannot run ${JSON.stringify(command[0])}: ${result.shortMessage}\n`);
    return 127;
  }
  return result.exitCode ?? 128 + (result.signal ? (await import('node:os')).constants.signals[result.signal as NodeJS.Signals] : 1);
}

/**
 * The job's end is near: the workers retire through the scheduler first (no new task starts on
 * them and they close between tasks, not mid-write), then the command is told with SIGTERM and
 * killed if it has not ended after a grace; `run` then stops the cluster as at any end.
 */
async function stopBeforeTheEnd(
  owner: ClusterOwner,
  clusterId: string,
  child: ResultPromise,
  deadline: RunDeadline,
  commandName: string
): Promise<void> {
  process.stderr.write(retireMessage(deadline, commandName, Date.now()));
  await owner.engine.scale(clusterId, { n_workers: 0 }).catch(error => {
    process.stderr.write(`dask-hpc: retiring the workers: ${(error as Error).message}\n`);
  });
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), COMMAND_GRACE_MS).unref();
}

export function jobScript(args: string[]): number {
  const { values } = parse(args, { ...OWNER_FLAGS });
  if (values.system === undefined) {
    throw new UsageError('job-script needs --system pbs or --system slurm, and --job-cores and --job-mem-gb');
  }
  const owner = new ClusterOwner(store(), ownerOptions(values, null));
  try {
    process.stdout.write(owner.engine.jobScript(clusterBody(values)).script);
  } catch (error) {
    throw error instanceof InputError ? asFlagError(error) : error;
  }
  return 0;
}

/**
 * "stopping" on stdout once the stop of our cluster is committed (recorded, its files set
 * aside): the Python process that closed our stdin need not wait for the rest, which this
 * process sees through whether that one waits, goes on or exits.
 */
function sayWhenStopping(owner: ClusterOwner): void {
  process.stdout.on('error', () => undefined); // it may have gone: the stop goes on
  let said = false;
  owner.engine.on('event', event => {
    if (said || event.type !== 'cluster' || event.cluster.status !== 'stopping') return;
    said = true;
    process.stdout.write('stopping\n');
  });
}

/** The process holding our stdin's other end has ended: stop every cluster (SIGTERM's shutdown) and leave. */
function exitWithStdin(): void {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.resume();
}

export async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, {
    ...OWNER_FLAGS,
    socket: { type: 'string' },
    'base-url': { type: 'string' },
    'exit-with-stdin': { type: 'boolean' }
  });
  if (!values.socket) throw new UsageError('serve needs --socket PATH');
  const baseUrl = baseUrlFlag(values['base-url'] as string | undefined);
  checkSocketFlag(values.socket);
  const owner = new ClusterOwner(store(), { ...ownerOptions(values, values.socket), baseUrl });
  await checkPython(owner.engine.options.python, env);
  await owner.listen();
  owner.shutdownOnSignals(() => process.exit(0));
  // The Jupyter server holds our stdin: when it dies, even by SIGKILL, we stop every cluster and leave.
  if (values['exit-with-stdin']) exitWithStdin();
  // SIGUSR2: leave the clusters running for a restarted server to adopt (stop_clusters_on_shutdown=False).
  process.on('SIGUSR2', () => process.exit(0));
  const adopted = await owner.engine.adoptOrphans();
  process.stderr.write(
    `dask-hpc: serving on ${values.socket}; adopted ${adopted.length} running cluster(s)${adopted.length ? ': ' + adopted.join(', ') : ''}\n`
  );
  await new Promise(() => undefined);
  return 0;
}
