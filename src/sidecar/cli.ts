import { execa } from 'execa';
import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ClusterState } from '../common/protocol';
import { callApi } from './api-client';
import { batchCommands } from './batch/batch-commands';
import { asFlagError, jobBodyFromFlags, JOB_FLAGS, numberFlag, PLAN_FLAGS, planBodyFromFlags, type FlagValues } from './cli-options';
import { tlsEnvironment } from './cluster-tls';
import { detectResources } from './detect';
import { ClusterStartError, InputError, NotFoundError } from './errors';
import { Owner } from './owner';
import { planCluster } from './plan';
import { parsePlanRequest } from './plan-request';
import { describeFileError } from './private-directory';
import { checkPython } from './python-check';
import { defaultStateDir, forgetDeadCluster, processAlive, StateStore } from './state';
import { findClusterHere, liveClustersHere, recordsByHost } from './host-records';
import { describeHost, thisHost } from './host';
import { runtimeDir } from './runtime-dir';
import { upDetached } from './detach';
import { restoreDeferredVariables } from './node-start-env';
import { describeTopology, formatBytes } from '../common/format';

const USAGE = `usage: dask-hpc <command> [options]
  detect [--json] [--root DIR]            the node's cores, memory and job filesystem
  plan [plan options] [--json]            workers, threads and memory for this node
  up [plan options] [--name N] [--python PY] [--detach | --exit-with-stdin] [--timeout S]
                                          start a cluster, print it as JSON, own it until stopped
                                          (--exit-with-stdin: or until its stdin ends)
  ls [--json] [--all-hosts]               this user's clusters on this node (--all-hosts: and, read
                                          only, those other nodes sharing the state directory run)
  down ID|NAME... | --all                 stop clusters (retire, terminate, kill)
  scale ID|NAME N                         a fixed number of workers
  adapt ID|NAME --minimum A --maximum B   let the scheduler choose within A..B
  run [plan options] [--python PY] -- CMD...
                                          run CMD against a fresh cluster, stop it, exit with CMD's status
  job-script --system pbs|slurm [job options] [plan options]
                                          print one worker job's script, submit nothing
  serve --socket PATH [--python PY]       the sidecar: the HTTP API on a unix socket
  paths [--json]                          the state directory, this node's socket directory, host and boot
plan options: --workload cpu|io|mixed  --max-workers N  --reserve-mem-gb X  --max-mem-gb Y
              --memory-target F --memory-spill F --memory-pause F --memory-terminate F  --root DIR
job options (up, run, job-script: workers as batch jobs on other nodes, the scheduler here):
              --system pbs|slurm  --dialect gadi|pbspro  --job-cores N  --job-mem-gb X
              --walltime HH:MM:SS  --queue Q  --account A  --jobfs-gb X  --storage gdata/ab12+…
              --prologue LINE (repeat)  --interface IF (default ib0, else the first non-loopback)
              --jobs N (jobs to submit at the start, default 1)
  --runner    (up, run) instead: the plan's workers on every node of the current PBS or Slurm
              job, started with pbsdsh or srun; the scheduler here`;

const OWNER_FLAGS = {
  ...PLAN_FLAGS,
  ...JOB_FLAGS,
  runner: { type: 'boolean' },
  name: { type: 'string' },
  python: { type: 'string' },
  timeout: { type: 'string' },
  'adoption-grace': { type: 'string' }
} as const;

/** Exit 2 with one line: what was wrong and what would be right. */
class UsageError extends Error {}

const env = process.env;
restoreDeferredVariables(env);
const store = () => new StateStore(defaultStateDir(env), runtimeDir(env));

function parse<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(args: string[], options: T) {
  // "--reserve-mem-gb -1" is a value, not an option: keep it for the value's own check to refuse.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const option = options[args[i].replace(/^--/, '')];
    if (option?.type === 'string' && /^-\d/.test(args[i + 1] ?? '')) joined.push(`${args[i]}=${args[++i]}`);
    else joined.push(args[i]);
  }
  try {
    return parseArgs({ args: joined, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} See dask-hpc --help.`);
  }
}

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** --root: a directory holding a node's /proc and /sys (a fixture tree); checked, or node files would silently read as missing. */
function rootFlag(values: FlagValues): string | undefined {
  const root = values.root as string | undefined;
  if (root === undefined) return undefined;
  try {
    if (!statSync(root).isDirectory()) throw new InputError('--root', `--root ${root} is not a directory; give a directory holding a node's proc/ and sys/`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError('--root', `--root: ${describeFileError(root, error)}; give a directory holding a node's proc/ and sys/`);
  }
  return root;
}

function planFromFlags(values: FlagValues) {
  const body = planBodyFromFlags(values);
  try {
    const resources = detectResources({ env, root: rootFlag(values) });
    return planCluster(resources, parsePlanRequest(body));
  } catch (error) {
    throw error instanceof InputError ? asFlagError(error) : error;
  }
}

function ownerOptions(values: FlagValues, controlSocket: string | null) {
  const timeout = numberFlag(values, 'timeout') ?? 120;
  const grace = numberFlag(values, 'adoption-grace') ?? 10;
  if (timeout <= 0) throw new InputError('--timeout', `--timeout takes seconds above 0, not ${timeout}`);
  if (grace < 0 || grace > 25) throw new InputError('--adoption-grace', `--adoption-grace takes 0 to 25 seconds, not ${grace}`);
  return {
    env,
    root: rootFlag(values),
    // A path is made absolute so the record means the same Python to every later process.
    python: pythonOption(values.python as string | undefined),
    adoptionGraceSeconds: grace,
    readyTimeoutMs: timeout * 1000,
    controlSocket
  };
}

function pythonOption(python: string | undefined): string {
  if (python === undefined) return 'python3';
  if (python.trim() === '') throw new InputError('--python', '--python takes a Python executable, not an empty string');
  return python.includes('/') ? resolve(python) : python;
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

function clusterRequest(owner: Owner, values: FlagValues) {
  try {
    return owner.engine.checkClusterRequest(clusterBody(values));
  } catch (error) {
    throw error instanceof InputError ? asFlagError(error) : error;
  }
}

function describeResourcesForHumans(values: FlagValues): void {
  const resources = detectResources({ env, root: rootFlag(values) });
  if (values.json) return printJson(resources);
  const lines = [
    `batch system  ${resources.batch_system}${resources.job_id ? ` (job ${resources.job_id})` : ''}`,
    `cores         ${resources.cores}  from ${resources.sources.cores}`,
    `memory        ${formatBytes(resources.memory_bytes)}  from ${resources.sources.memory}`,
    `jobfs         ${resources.jobfs ?? '(none: /tmp)'}  from ${resources.sources.jobfs}`,
    ...resources.warnings.map(warning => `warning: ${warning}`)
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function up(args: string[]): Promise<number> {
  const { values } = parse(args, { ...OWNER_FLAGS, detach: { type: 'boolean' }, 'exit-with-stdin': { type: 'boolean' } });
  if (values.detach && values['exit-with-stdin']) throw new UsageError('--detach and --exit-with-stdin contradict each other: choose one');
  if (values.detach) return upDetached(args.filter(arg => arg !== '--detach'), fileURLToPath(import.meta.url), store().runtimeDir);
  const state = store();
  // The id is not known before the cluster exists, so the owner's socket is named by its pid (on this node: its runtime directory).
  const owner = new Owner(state, ownerOptions(values, `${state.runtimeDir}/owner-${process.pid}.sock`));
  const request = clusterRequest(owner, values);
  checkPython(owner.engine.options.python, env);
  await owner.listen();
  owner.shutdownOnSignals(() => process.exit(0));
  // The Python process that started us holds our stdin (setup_dask_client): when it ends, even
  // by SIGKILL, its cluster goes too.
  if (values['exit-with-stdin']) exitWithStdin();
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

function ls(args: string[]): number {
  const { values } = parse(args, { json: { type: 'boolean' }, 'all-hosts': { type: 'boolean' } });
  const { here, elsewhere } = recordsByHost(store());
  const clusters = values['all-hosts'] ? [...here, ...elsewhere.map(c => ({ ...c, host: c.host ?? null }))] : here;
  if (values.json) {
    printJson(clusters);
    return 0;
  }
  for (const c of here) {
    const running = c.workers.filter(w => w.status === 'running').length;
    process.stdout.write(`${c.id}  ${c.name}  ${c.status}  workers ${running}/${c.workers.length}  ${c.scheduler_address}  ${c.dashboard_url}\n`);
  }
  // Another node's record says what it was when written: its processes cannot be checked from here.
  if (values['all-hosts']) for (const c of elsewhere) process.stdout.write(`${c.id}  ${c.name}  ${c.status}  on ${describeHost(c)}\n`);
  return 0;
}

/** Sends a request to the process that owns the cluster; a 4xx answer is the user's error. */
async function askOwner(cluster: ClusterState, method: string, body?: unknown): Promise<ClusterState | null> {
  if (!cluster.control_socket || !processAlive(cluster.owner_pid)) return null;
  try {
    const response = await callApi(cluster.control_socket, method, `/api/clusters/${cluster.id}`, body);
    const message = (response.body as { message?: string } | null)?.message;
    if (response.status === 400) throw new InputError('body', message ?? 'rejected');
    if (response.status >= 300) throw new Error(message ?? `HTTP ${response.status}`);
    return response.body as ClusterState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Stops a cluster whose owner is gone: SIGTERM its processes, SIGKILL after 5 s, remove its files. */
async function stopOrphan(state: StateStore, cluster: ClusterState): Promise<void> {
  if (cluster.worker_jobs) {
    const jobIds = cluster.workers.map(w => w.job_id).filter((id): id is string => !!id);
    await batchCommands(cluster.worker_jobs.system).cancel(jobIds).catch(error => process.stderr.write(`dask-hpc: ${(error as Error).message}\n`));
  }
  const pids = [cluster.scheduler_pid, ...cluster.workers.map(w => w.pid)].filter((pid): pid is number => !!pid);
  for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (pids.some(processAlive) && Date.now() < deadline) await new Promise(r => setTimeout(r, 100));
  for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  forgetDeadCluster(state, cluster);
}

async function down(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { all: { type: 'boolean' } });
  const state = store();
  if (!values.all && positionals.length === 0) throw new UsageError('down needs cluster ids or names, or --all');
  const clusters = values.all ? liveClustersHere(state) : positionals.map(idOrName => findClusterHere(state, idOrName, 'down'));
  await Promise.all(
    clusters.map(async cluster => {
      if ((await askOwner(cluster, 'DELETE')) === null) await stopOrphan(state, cluster);
      process.stdout.write(`stopped ${cluster.id} (${cluster.name})\n`);
    })
  );
  return 0;
}

async function scale(args: string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length !== 2) throw new UsageError('scale takes a cluster id or name and a number of workers');
  const workers = numberFlag({ workers: positionals[1] }, 'workers');
  const cluster = findClusterHere(store(), positionals[0], 'scale');
  const result = await askOwner(cluster, 'PATCH', { n_workers: workers });
  if (!result) throw new Error(`the process that owns ${cluster.id} is gone; it cannot be scaled`);
  printJson(result);
  return 0;
}

async function adapt(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { minimum: { type: 'string' }, maximum: { type: 'string' } });
  if (positionals.length !== 1 || values.maximum === undefined) throw new UsageError('adapt takes a cluster id or name, --minimum A and --maximum B');
  const cluster = findClusterHere(store(), positionals[0], 'adapt');
  const range = { minimum: numberFlag(values, 'minimum') ?? 0, maximum: numberFlag(values, 'maximum') };
  const result = await askOwner(cluster, 'PATCH', { adaptive: range });
  if (!result) throw new Error(`the process that owns ${cluster.id} is gone; it cannot adapt`);
  printJson(result);
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

async function run(args: string[]): Promise<number> {
  const separator = args.indexOf('--');
  if (separator === -1 || separator === args.length - 1) throw new UsageError('run needs a command after --, as in: dask-hpc run -- python script.py');
  const { values } = parse(args.slice(0, separator), OWNER_FLAGS);
  const command = args.slice(separator + 1);
  const owner = new Owner(store(), ownerOptions(values, null));
  const request = clusterRequest(owner, values);
  checkPython(owner.engine.options.python, env);
  const cluster = await owner.startCluster(request);
  const child = execa(command[0], command.slice(1), { env: clientEnvironment(cluster), stdio: 'inherit', reject: false });
  // Signals for us go to the command first; the cluster is stopped when it has ended.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  const result = await child;
  await owner.shutdown();
  if (result.failed && result.exitCode === undefined && !result.signal) {
    process.stderr.write(`dask-hpc: cannot run ${JSON.stringify(command[0])}: ${result.shortMessage}\n`);
    return 127;
  }
  return result.exitCode ?? 128 + (result.signal ? (await import('node:os')).constants.signals[result.signal as NodeJS.Signals] : 1);
}

function jobScript(args: string[]): number {
  const { values } = parse(args, { ...OWNER_FLAGS });
  if (values.system === undefined) throw new UsageError('job-script needs --system pbs or --system slurm, and --job-cores and --job-mem-gb');
  const owner = new Owner(store(), ownerOptions(values, null));
  try {
    process.stdout.write(owner.engine.jobScript(clusterBody(values)).script);
  } catch (error) {
    throw error instanceof InputError ? asFlagError(error) : error;
  }
  return 0;
}

/** Unix socket paths are limited to 107 bytes on Linux (sun_path), and their directory must take a new entry. */
const MAX_SOCKET_PATH_BYTES = 107;

function checkSocketPath(socket: string): void {
  const refuse = (what: string) => new InputError('--socket', `--socket ${socket}: ${what}; give a path in a directory of your own, such as $XDG_RUNTIME_DIR/dask-hpc.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) throw refuse(`a unix socket path has at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  const directory = dirname(resolve(socket));
  try {
    if (!statSync(directory).isDirectory()) throw refuse(`${directory} is not a directory`);
    accessSync(directory, constants.W_OK | constants.X_OK);
    const existing = lstatSync(socket, { throwIfNoEntry: false });
    // A socket left by a killed sidecar is replaced; anything else there is the user's file.
    if (existing && !existing.isSocket()) throw refuse('it exists and is not a socket; dask-hpc would replace it');
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw refuse(describeFileError(directory, error));
  }
}

/** The directories and this node as the engine sees them: jupyterlab_dask_hpc asks here rather than repeat the rules. */
function paths(args: string[]): number {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const state = store();
  const description = { state_dir: state.dir, runtime_dir: state.runtimeDir, ...thisHost() };
  if (values.json) printJson(description);
  else for (const [key, value] of Object.entries(description)) process.stdout.write(`${key.padEnd(12)}${value}\n`);
  return 0;
}

/** The process holding our stdin's other end has ended: stop every cluster (SIGTERM's shutdown) and leave. */
function exitWithStdin(): void {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.resume();
}

async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, { ...OWNER_FLAGS, socket: { type: 'string' }, 'base-url': { type: 'string' }, 'exit-with-stdin': { type: 'boolean' } });
  if (!values.socket) throw new UsageError('serve needs --socket PATH');
  const baseUrl = values['base-url'] as string | undefined;
  if (baseUrl !== undefined && !baseUrl.startsWith('/')) throw new InputError('--base-url', `--base-url is a path starting with "/", not ${JSON.stringify(baseUrl)}`);
  checkSocketPath(values.socket);
  const owner = new Owner(store(), { ...ownerOptions(values, values.socket), baseUrl: baseUrl ?? null });
  checkPython(owner.engine.options.python, env);
  await owner.listen();
  owner.shutdownOnSignals(() => process.exit(0));
  // The Jupyter server holds our stdin: when it dies, even by SIGKILL, we stop every cluster and leave.
  if (values['exit-with-stdin']) exitWithStdin();
  // SIGUSR2: leave the clusters running for a restarted server to adopt (stop_clusters_on_shutdown=False).
  process.on('SIGUSR2', () => process.exit(0));
  const adopted = await owner.engine.adoptOrphans();
  process.stderr.write(`dask-hpc: serving on ${values.socket}; adopted ${adopted.length} running cluster(s)${adopted.length ? ': ' + adopted.join(', ') : ''}\n`);
  await new Promise(() => undefined);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'detect':
        describeResourcesForHumans(parse(args, { json: PLAN_FLAGS.json, root: PLAN_FLAGS.root }).values);
        return 0;
      case 'plan':
        printJsonOrSummary(planFromFlags(parse(args, PLAN_FLAGS).values), parse(args, PLAN_FLAGS).values.json);
        return 0;
      case 'up':
        return await up(args);
      case 'ls':
        return ls(args);
      case 'down':
        return await down(args);
      case 'scale':
        return await scale(args);
      case 'adapt':
        return await adapt(args);
      case 'run':
        return await run(args);
      case 'serve':
        return await serve(args);
      case 'job-script':
        return jobScript(args);
      case 'paths':
        return paths(args);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; the commands are detect, plan, up, ls, down, scale, adapt, run, job-script, serve, paths`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof InputError) {
      process.stderr.write(`dask-hpc: ${error.message}\n`);
      return 2;
    }
    if (error instanceof NotFoundError || error instanceof ClusterStartError) {
      process.stderr.write(`dask-hpc: ${error.message}\n`);
      return 1;
    }
    // Not the user's doing: one line and the way to more, unless asked for the whole trace.
    if (env.DASK_HPC_DEBUG) process.stderr.write(`dask-hpc: ${(error as Error).stack ?? error}\n`);
    else process.stderr.write(`dask-hpc: ${(error as Error).message ?? error} (unexpected; DASK_HPC_DEBUG=1 shows where it happened)\n`);
    return 1;
  }
}

function printJsonOrSummary(plan: ReturnType<typeof planCluster>, json: boolean | undefined): void {
  if (json) return printJson(plan);
  const lines = [
    `${describeTopology(plan.n_workers, plan.threads_per_worker)} (${plan.workload})`,
    `memory per worker  ${formatBytes(plan.memory_limit_bytes)}  (reserve ${formatBytes(plan.reserve_bytes)})`,
    `spill and temp     ${plan.local_directory}/<cluster id>`,
    `chunks             about ${formatBytes(plan.recommended_chunk_bytes)}`,
    ...plan.warnings.map(warning => `warning: ${warning}`)
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

void main(process.argv.slice(2)).then(code => {
  process.exitCode = code;
});
