import type { ClusterState, Plan, Resources, WorkerJobSpec } from '../../common/protocol';
import { allocationNodes } from '../batch/allocation';
import { chooseInterface } from '../batch/interfaces';
import { LAUNCH_COMMAND } from '../batch/node-launcher';
import type { RunnerSpec } from '../cluster/cluster-spec';
import { InputError } from '../errors';
import { commandOnPath } from '../node/command-path';
import type { Environment } from '../node/detect';
import { heldByClusters, whatIsLeft } from '../node/node-share';
import { localDirectoryRoot, planCluster } from '../node/plan';
import { checkPrivateRoot } from '../state/private-directory';
import type { JobHere } from './job-defaults';
import { initialJobs, parseWorkerJobs } from './job-request';
import { parsePlanRequest, rejectUnknownFields } from './plan-request';

/** The fields a cluster request has besides the plan's. */
export const CLUSTER_FIELDS = ['name', 'worker_jobs', 'runner', 'overcommit'];
const SUBMIT_COMMAND = { slurm: 'sbatch', pbs: 'qsub' } as const;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** A checked cluster request: the plan, a name, and where the workers run. */
export interface ClusterRequest {
  name: string | null;
  plan: Plan;
  /** Workers as batch jobs: each job's shape, how many to submit, where the scheduler listens. */
  workerJobs: { spec: WorkerJobSpec; initialJobs: number; listenHost: string } | null;
  /** Runner mode: the plan's workers on every node of the current allocation. */
  runner?: RunnerSpec | null;
}

/** What checking a request needs to know of this node and its owner. */
export interface RequestContext {
  env: Environment;
  resources(): Resources;
  /** The clusters this owner runs now: a name is taken once, and their workers hold part of the node. */
  clusters(): ClusterState[];
}

/** A cluster's name, if one is given, is a short word: it names log files and batch jobs. */
export function checkName(name: unknown): void {
  if (name !== undefined && name !== null && (typeof name !== 'string' || !NAME_PATTERN.test(name))) {
    throw new InputError(
      'name',
      `name must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit; not ${JSON.stringify(name)}`
    );
  }
}

/**
 * The plan a request body asks for, against what this owner's running clusters leave of the
 * node (unless the request says overcommit), with its name checked so the form can say so live.
 */
export function checkPlanRequest(body: unknown, context: RequestContext): Plan {
  const request = parsePlanRequest(body, CLUSTER_FIELDS);
  const fields = body as Record<string, unknown>;
  const overcommit = fields.overcommit ?? false;
  if (typeof overcommit !== 'boolean') {
    throw new InputError('overcommit', `overcommit must be true or false, not ${JSON.stringify(overcommit)}`);
  }
  const resources = context.resources();
  const clusters = context.clusters();
  const held = heldByClusters(clusters);
  // Worker jobs take nodes of their own: this one's share does not bound them.
  const shared = held.clusters > 0 && !overcommit && (fields.worker_jobs === undefined || fields.worker_jobs === null);
  const left = shared ? whatIsLeft(resources, held) : null;
  const plan = planCluster(left?.resources ?? resources, request, resources.memory_bytes);
  if (left) plan.warnings.unshift(left.warning);
  if (overcommit && held.clusters > 0 && plan.max_spill_bytes) {
    plan.warnings.push("overcommit: this cluster's spill caps and the other clusters' may together pass the job's jobfs request.");
  }
  checkName(fields.name);
  if (typeof fields.name === 'string' && clusters.some(cluster => cluster.name === fields.name)) {
    throw new InputError('name', `a cluster named ${JSON.stringify(fields.name)} is already running`);
  }
  return plan;
}

/** Checks a cluster request completely, so bad input creates nothing. */
export function checkClusterRequest(body: unknown, context: RequestContext): ClusterRequest {
  const plan = checkPlanRequest(body, context);
  const fields = body as Record<string, unknown>;
  const name = fields.name;
  const jobsBody = fields.worker_jobs;
  const runner = checkRunner(fields.runner, context);
  if (runner && jobsBody !== undefined && jobsBody !== null) {
    throw new InputError('runner', 'runner uses the nodes of this job; worker_jobs submits new jobs: choose one');
  }
  checkPrivateRoot(localDirectoryRoot(context.resources()), false); // the scheduler's directory is made there
  if (jobsBody === undefined || jobsBody === null) return { name: (name as string | undefined) ?? null, plan, workerJobs: null, runner };
  const checked = checkWorkerJobs(fields, context.resources());
  const system = (checked.workerJobs as NonNullable<ClusterRequest['workerJobs']>).spec.system;
  if (!commandOnPath(SUBMIT_COMMAND[system], context.env)) {
    throw new InputError(
      'worker_jobs.system',
      `${SUBMIT_COMMAND[system]} is not on PATH: this node cannot submit ${system === 'pbs' ? 'PBS' : 'Slurm'} jobs`
    );
  }
  return { name: (name as string | undefined) ?? null, ...checked };
}

/**
 * Runner mode (runner: true): this must be a PBS or Slurm job with its launcher on PATH; its
 * nodes are read now, so a request that cannot run is refused before anything starts.
 */
function checkRunner(value: unknown, context: RequestContext): RunnerSpec | null {
  if (value === undefined || value === null || value === false) return null;
  if (value !== true) throw new InputError('runner', `runner must be true or false, not ${JSON.stringify(value)}`);
  const system = context.resources().batch_system;
  const unavailable = runnerUnavailable(system, context.env);
  if (unavailable !== null || system === 'none') throw new InputError('runner', unavailable ?? '');
  return { system, nodes: allocationNodes(system, context.env), listenHost: chooseInterface(null).address };
}

/** Why runner mode cannot start workers here (null: it can), also for the form to say before Launch. */
export function runnerUnavailable(system: Resources['batch_system'], env: Environment): string | null {
  if (system === 'none') return 'runner uses the nodes of the current PBS or Slurm job, and this process is not in one';
  if (!commandOnPath(LAUNCH_COMMAND[system], env)) {
    return `${LAUNCH_COMMAND[system]} is not on PATH: workers cannot be started on this job's nodes`;
  }
  return null;
}

/** The worker-jobs part of a request: the job's shape and plan, the scheduler's interface. */
function checkWorkerJobs(body: Record<string, unknown>, here: JobHere | null): Omit<ClusterRequest, 'name'> {
  const spec = parseWorkerJobs(body.worker_jobs, body, here);
  const jobs = initialJobs(body.worker_jobs as Record<string, unknown>);
  const listen = chooseInterface(spec.interface);
  return {
    plan: spec.plan,
    workerJobs: { spec: { ...spec, interface: spec.interface ?? listen.name }, initialJobs: jobs, listenHost: listen.address }
  };
}

/** A job-script request (worker jobs, nothing started): its job, plan, interface and name. */
export function checkJobScriptRequest(
  body: unknown,
  here: JobHere | null = null
): { spec: WorkerJobSpec; plan: Plan; listenHost: string; name: string | null } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InputError(
      'body',
      'the request must be a JSON object like {"worker_jobs": {"system": "slurm", "cores": 4, "memory_gb": 16}}'
    );
  }
  const request = body as Record<string, unknown>;
  if (request.worker_jobs === undefined || request.worker_jobs === null) {
    throw new InputError('worker_jobs', 'worker_jobs is needed: {"system": "pbs"|"slurm", "cores": N, "memory_gb": X, …}');
  }
  rejectUnknownFields(request, ['workload', 'max_workers', 'reserve_mem_gb', 'thresholds', ...CLUSTER_FIELDS]);
  const { plan, workerJobs } = checkWorkerJobs(request, here);
  const { spec, listenHost } = workerJobs as NonNullable<ClusterRequest['workerJobs']>;
  checkName(request.name);
  return { spec, plan, listenHost, name: typeof request.name === 'string' ? request.name : null };
}
