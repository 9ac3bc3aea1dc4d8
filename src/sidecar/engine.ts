import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { ClusterEvent, ClusterState, Plan, Resources } from '../common/protocol';
import { preloadPath } from './assets';
import type { WorkerJobSpec } from '../common/protocol';
import { allocationNodes } from './batch/allocation';
import { LAUNCH_COMMAND } from './batch/node-launcher';
import { batchCommands } from './batch/batch-commands';
import { chooseInterface } from './batch/interfaces';
import { initialJobs, parseWorkerJobs } from './batch/job-request';
import { renderJobScript } from './batch/job-script';
import { AHEAD_DIRECTORY, writeCertificatesAhead } from './certificates-ahead';
import { clusterSecurityFiles } from './cluster-tls';
import { Cluster, type ClusterSpec, type RunnerSpec, type WorkerJobsSpec } from './cluster';
import { commandOnPath } from './command-path';
import { dashboardLinks } from './dashboard-links';
import { detectResources, type Environment } from './detect';
import { ClusterStartError, InputError, NotFoundError } from './errors';
import { heldByClusters, whatIsLeft } from './node-share';
import { localDirectoryRoot, planCluster } from './plan';
import { parsePlanRequest, rejectUnknownFields } from './plan-request';
import { checkPrivateRoot } from './private-directory';
import { forgetDeadCluster, processAlive, StateStore } from './state';
import { thisHost, whereabouts } from './host';

export interface EngineOptions {
  env: Environment;
  /** Where /proc and /sys are read (tests describe other nodes). */
  root?: string;
  store: StateStore;
  /** The Python that runs Dask: the kernel's, so client and workers match. */
  python: string;
  adoptionGraceSeconds: number;
  readyTimeoutMs: number;
  /** The control socket of the process that owns the clusters, recorded for other dask-hpc processes. */
  controlSocket: string | null;
  /** Jupyter's base URL when serving under Jupyter: dashboards are then linked through its proxy. */
  baseUrl?: string | null;
}

const CLUSTER_FIELDS = ['name', 'worker_jobs', 'runner', 'overcommit'];
const SUBMIT_COMMAND = { slurm: 'sbatch', pbs: 'qsub' } as const;
/** How often the batch system is asked about a cluster's jobs. */
const JOB_POLL_MS = 2000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** A cluster's name, if one is given, is a short word: it names log files and batch jobs. */
function checkName(name: unknown): void {
  if (name !== undefined && name !== null && (typeof name !== 'string' || !NAME_PATTERN.test(name))) {
    throw new InputError('name', `name must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit; not ${JSON.stringify(name)}`);
  }
}

/** A cluster request: the plan's fields and a name. */
export interface ClusterRequest {
  name: string | null;
  plan: Plan;
  /** Workers as batch jobs: each job's shape, how many to submit, where the scheduler listens. */
  workerJobs: { spec: WorkerJobSpec; initialJobs: number; listenHost: string } | null;
  /** Runner mode: the plan's workers on every node of the current allocation. */
  runner?: RunnerSpec | null;
}

/**
 * The engine: detect, plan, and the clusters this process owns. The CLI and the sidecar's
 * HTTP API both drive it; it records every change in the state store and emits it as an event.
 */
export class Engine extends EventEmitter<{ event: [ClusterEvent] }> {
  private readonly clusters = new Map<string, Cluster>();

  constructor(readonly options: EngineOptions) {
    super();
  }

  resources(): Resources {
    const detected = detectResources({ env: this.options.env, root: this.options.root });
    return { ...detected, runner_unavailable: this.runnerUnavailable(detected.batch_system) };
  }

  /** Why runner mode cannot start workers here (null: it can), for the form to say before Launch. */
  private runnerUnavailable(system: Resources['batch_system']): string | null {
    if (system === 'none') return 'runner uses the nodes of the current PBS or Slurm job, and this process is not in one';
    if (!commandOnPath(LAUNCH_COMMAND[system], this.options.env)) return `${LAUNCH_COMMAND[system]} is not on PATH: workers cannot be started on this job's nodes`;
    return null;
  }

  /**
   * The plan for a request, against what this engine's running clusters leave of the node
   * (unless the request says overcommit), with its name checked so the form can say so live.
   */
  plan(body: unknown): Plan {
    const request = parsePlanRequest(body, CLUSTER_FIELDS);
    const fields = body as Record<string, unknown>;
    const overcommit = fields.overcommit ?? false;
    if (typeof overcommit !== 'boolean') throw new InputError('overcommit', `overcommit must be true or false, not ${JSON.stringify(overcommit)}`);
    const resources = this.resources();
    const held = heldByClusters(this.list());
    // Worker jobs take nodes of their own: this one's share does not bound them.
    const shared = held.clusters > 0 && !overcommit && (fields.worker_jobs === undefined || fields.worker_jobs === null);
    const left = shared ? whatIsLeft(resources, held) : null;
    const plan = planCluster(left?.resources ?? resources, request);
    if (left) plan.warnings.unshift(left.warning);
    const name = fields.name;
    checkName(name);
    if (typeof name === 'string' && this.list().some(cluster => cluster.name === name)) {
      throw new InputError('name', `a cluster named ${JSON.stringify(name)} is already running`);
    }
    return plan;
  }

  /** Checks a cluster request completely, so bad input creates nothing. */
  checkClusterRequest(body: unknown): ClusterRequest {
    const plan = this.plan(body);
    const name = (body as Record<string, unknown>).name;
    const jobsBody = (body as Record<string, unknown>).worker_jobs;
    const runner = this.checkRunner((body as Record<string, unknown>).runner);
    if (runner && jobsBody !== undefined && jobsBody !== null) {
      throw new InputError('runner', 'runner uses the nodes of this job; worker_jobs submits new jobs: choose one');
    }
    checkPrivateRoot(localDirectoryRoot(this.resources()), false); // the scheduler's directory is made there
    if (jobsBody === undefined || jobsBody === null) return { name: (name as string | undefined) ?? null, plan, workerJobs: null, runner };
    const checked = this.checkWorkerJobs(body as Record<string, unknown>);
    const system = (checked.workerJobs as NonNullable<ClusterRequest['workerJobs']>).spec.system;
    if (!commandOnPath(SUBMIT_COMMAND[system], this.options.env)) {
      throw new InputError('worker_jobs.system', `${SUBMIT_COMMAND[system]} is not on PATH: this node cannot submit ${system === 'pbs' ? 'PBS' : 'Slurm'} jobs`);
    }
    return { name: (name as string | undefined) ?? null, ...checked };
  }

  /**
   * Runner mode (runner: true): this must be a PBS or Slurm job with its launcher on PATH; its
   * nodes are read now, so a request that cannot run is refused before anything starts.
   */
  private checkRunner(value: unknown): RunnerSpec | null {
    if (value === undefined || value === null || value === false) return null;
    if (value !== true) throw new InputError('runner', `runner must be true or false, not ${JSON.stringify(value)}`);
    const system = this.resources().batch_system;
    const unavailable = this.runnerUnavailable(system);
    if (unavailable !== null || system === 'none') throw new InputError('runner', unavailable ?? '');
    return { system, nodes: allocationNodes(system, this.options.env), listenHost: chooseInterface(null).address };
  }

  /** The worker-jobs part of a request: the job's shape and plan, the scheduler's interface, a batch system to submit to. */
  private checkWorkerJobs(body: Record<string, unknown>): Omit<ClusterRequest, 'name'> {
    const spec = parseWorkerJobs(body.worker_jobs, body);
    const jobs = initialJobs(body.worker_jobs as Record<string, unknown>);
    const listen = chooseInterface(spec.interface);
    return { plan: spec.plan, workerJobs: { spec: { ...spec, interface: spec.interface ?? listen.name }, initialJobs: jobs, listenHost: listen.address } };
  }

  /**
   * The script one worker job of this request would run, without submitting anything (as
   * dask-jobqueue's job_script()). The scheduler's port is known only once it runs.
   */
  jobScript(body: unknown): { script: string; plan: Plan; listen_address: string } {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InputError('body', 'the request must be a JSON object like {"worker_jobs": {"system": "slurm", "cores": 4, "memory_gb": 16}}');
    }
    const request = body as Record<string, unknown>;
    if (request.worker_jobs === undefined || request.worker_jobs === null) {
      throw new InputError('worker_jobs', 'worker_jobs is needed: {"system": "pbs"|"slurm", "cores": N, "memory_gb": X, …}');
    }
    rejectUnknownFields(request, ['workload', 'max_workers', 'reserve_mem_gb', 'thresholds', ...CLUSTER_FIELDS]);
    const { plan, workerJobs } = this.checkWorkerJobs(request);
    const { spec, listenHost } = workerJobs as NonNullable<ClusterRequest['workerJobs']>;
    checkName(request.name);
    const name = typeof request.name === 'string' ? request.name : 'dask-ID';
    const script = renderJobScript(spec, {
      clusterId: 'ID',
      jobName: 'dask-ID',
      workerName: `${name}-job-0`,
      schedulerAddress: `tls://${listenHost}:PORT`,
      python: this.options.python,
      logFile: `${this.options.store.dir}/ID.jobs/${name}-job-0.log`,
      security: clusterSecurityFiles(`${this.options.store.dir}/ID.tls`)
    });
    return { script, plan, listen_address: listenHost };
  }

  /** What the batch system needs to run, track and cancel this cluster's jobs. */
  private workerJobsSpec(id: string, spec: WorkerJobSpec, initial: number, listenHost: string): WorkerJobsSpec {
    return {
      spec,
      commands: batchCommands(spec.system),
      jobDirectory: this.options.store.pathFor(id, '.jobs'),
      schedulerRoot: localDirectoryRoot(this.resources()),
      listenHost,
      initialJobs: initial,
      pollMs: JOB_POLL_MS
    };
  }

  /**
   * Creates a cluster from a checked request. Returns at once with the cluster "starting";
   * `ready` settles when it runs or has failed (and then nothing of it is left).
   */
  private clusterSpec(id: string, name: string, plan: Plan, workerJobs: WorkerJobsSpec | null = null, runner: RunnerSpec | null = null): ClusterSpec {
    const resources = this.resources();
    return {
      id,
      name,
      plan,
      python: this.options.python,
      lifelinePreload: preloadPath('lifeline'),
      dashboardPreload: preloadPath('deferred_dashboard'),
      lifelineSocket: this.options.store.socketFor(id, '.lifeline.sock'),
      adoptionGraceSeconds: this.options.adoptionGraceSeconds,
      controlSocket: this.options.controlSocket,
      readyTimeoutMs: this.options.readyTimeoutMs,
      dashboardLinks: address => dashboardLinks(address, { baseUrl: this.options.baseUrl ?? null, resources, env: this.options.env }),
      workerJobs,
      runner,
      securityDirectory: this.options.store.pathFor(id, '.tls'),
      certificatesAhead: this.certificatesAhead()
    };
  }

  private certificatesAhead(): string {
    return join(this.options.store.dir, AHEAD_DIRECTORY);
  }

  create(request: ClusterRequest): { cluster: ClusterState; ready: Promise<ClusterState> } {
    const id = randomBytes(4).toString('hex');
    const jobs = request.workerJobs && this.workerJobsSpec(id, request.workerJobs.spec, request.workerJobs.initialJobs, request.workerJobs.listenHost);
    const cluster = new Cluster(this.clusterSpec(id, request.name ?? `dask-${id}`, request.plan, jobs, request.runner ?? null), state => this.record(state));
    // Registered only once its record is written: a cluster other processes cannot see must not start.
    try {
      this.options.store.save(cluster.state);
    } catch (error) {
      throw new ClusterStartError(`the cluster was not started: ${(error as Error).message}`);
    }
    this.clusters.set(id, cluster);
    this.emit('event', { type: 'cluster', cluster: { ...cluster.state } });
    const ready = cluster.start().then(
      () => {
        void writeCertificatesAhead(this.certificatesAhead()); // for the next cluster
        return cluster.state;
      },
      error => {
        this.forget(id);
        throw error;
      }
    );
    return { cluster: cluster.state, ready };
  }

  private record(state: ClusterState): void {
    if (state.status === 'stopped' || (state.status === 'failed' && !this.clusters.has(state.id))) {
      return;
    }
    try {
      this.options.store.save(state);
    } catch (error) {
      // The cluster runs on and its subscribers still hear of it; the next change is written again.
      process.stderr.write(`dask-hpc: cluster ${state.id}'s record was not updated: ${(error as Error).message}\n`);
    }
    this.emit('event', { type: 'cluster', cluster: { ...state } });
  }

  private forget(id: string): void {
    this.clusters.delete(id);
    this.options.store.remove(id);
    this.emit('event', { type: 'cluster-removed', id });
  }

  /**
   * Adopts the clusters an earlier owner with this control socket left running on this node
   * (the sidecar restarted after a crash), and clears away this node's records whose processes
   * are all gone, and those of its earlier boots. Other nodes' records are theirs.
   * Returns the ids adopted.
   */
  async adoptOrphans(): Promise<string[]> {
    const adopted: string[] = [];
    const here = thisHost();
    for (const record of this.options.store.list()) {
      const where = whereabouts(record, here);
      if (where === 'elsewhere') continue;
      if (where === 'earlier-boot') {
        forgetDeadCluster(this.options.store, record, this.options.controlSocket);
        continue;
      }
      if (processAlive(record.owner_pid) && record.owner_pid !== process.pid) continue;
      const reason = record.control_socket === this.options.controlSocket && !this.clusters.has(record.id) && orphanFailure(record);
      if (reason) {
        await this.failOrphan(record, reason);
        continue;
      }
      if (!processAlive(record.scheduler_pid)) {
        forgetDeadCluster(this.options.store, record, this.options.controlSocket);
        continue;
      }
      if (record.control_socket !== this.options.controlSocket || this.clusters.has(record.id)) continue;
      try {
        const jobs = record.worker_jobs ? this.workerJobsSpec(record.id, record.worker_jobs, 0, '') : null;
        // The same job, so the same nodes: read again for the launcher's node indexes.
        const runner = record.runner ? { system: record.runner.system, nodes: allocationNodes(record.runner.system, this.options.env), listenHost: '' } : null;
        const cluster = await Cluster.adopt(this.clusterSpec(record.id, record.name, record.plan, jobs, runner), record, state => this.record(state));
        this.clusters.set(record.id, cluster);
        this.record(cluster.state);
        adopted.push(record.id);
      } catch {
        // Its scheduler is closing or not answering: its lifeline ends it; the next look clears it.
      }
    }
    return adopted;
  }

  /** An orphan of ours that cannot run on: listed as failed, with the reason, for its subscribers and until it is deleted. */
  private async failOrphan(record: ClusterState, reason: string): Promise<void> {
    const jobs = record.worker_jobs ? this.workerJobsSpec(record.id, record.worker_jobs, 0, '') : null;
    const spec = this.clusterSpec(record.id, record.name, record.plan, jobs, null);
    const cluster = await Cluster.failOrphan(spec, record, reason, state => this.record(state));
    this.clusters.set(record.id, cluster);
    this.record(cluster.state);
  }

  list(): ClusterState[] {
    return [...this.clusters.values()].map(cluster => cluster.state);
  }

  /** A cluster of this engine's by id or name. */
  get(idOrName: string): Cluster {
    const cluster = this.clusters.get(idOrName) ?? [...this.clusters.values()].find(c => c.state.name === idOrName);
    if (!cluster) {
      throw new NotFoundError(`no cluster ${JSON.stringify(idOrName)} here; dask-hpc ls lists them`);
    }
    return cluster;
  }

  /** PATCH: {"n_workers": N} or {"adaptive": {"minimum": a, "maximum": b}} or {"adaptive": null}. */
  async scale(idOrName: string, body: unknown): Promise<ClusterState> {
    const cluster = this.get(idOrName);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InputError('body', 'the request must be a JSON object like {"n_workers": 4}');
    }
    const request = body as Record<string, unknown>;
    rejectUnknownFields(request, ['n_workers', 'adaptive']);
    const count = (field: string, value: unknown) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 4096) {
        throw new InputError(field, `${field} must be a whole number from 0 to 4096, not ${JSON.stringify(value)}`);
      }
      return value;
    };
    if ('n_workers' in request === 'adaptive' in request) {
      throw new InputError('n_workers', 'give either n_workers or adaptive ({"minimum": a, "maximum": b}, or null to stop)');
    }
    // Worker-job clusters scale by whole jobs: enough jobs for the workers asked for.
    const units = (field: string, workers: number) => {
      const nodes = cluster.spec.runner?.nodes.length;
      if (nodes !== undefined && cluster.unitsFor(workers) > nodes) {
        throw new InputError(field, `${field}=${workers} needs ${cluster.unitsFor(workers)} nodes; this job has ${nodes} (${cluster.spec.plan.n_workers} workers each)`);
      }
      return cluster.unitsFor(workers);
    };
    if ('n_workers' in request) {
      await cluster.scale(units('n_workers', count('n_workers', request.n_workers)));
    } else if (request.adaptive === null) {
      await cluster.scale(cluster.state.workers.length);
    } else {
      const range = request.adaptive as Record<string, unknown>;
      if (typeof range !== 'object' || Array.isArray(range)) {
        throw new InputError('adaptive', 'adaptive must be {"minimum": a, "maximum": b} or null');
      }
      rejectUnknownFields(range, ['minimum', 'maximum']);
      const minimum = count('adaptive.minimum', range.minimum ?? 0);
      const maximum = count('adaptive.maximum', range.maximum);
      if (minimum > maximum) {
        throw new InputError('adaptive.minimum', `adaptive.minimum=${minimum} is above adaptive.maximum=${maximum}`);
      }
      await cluster.adapt({ minimum: units('adaptive.minimum', minimum), maximum: units('adaptive.maximum', maximum) });
    }
    return cluster.state;
  }

  async stop(idOrName: string): Promise<ClusterState> {
    const cluster = this.get(idOrName);
    await cluster.stop();
    this.forget(cluster.state.id);
    return cluster.state;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.clusters.keys()].map(id => this.stop(id)));
  }
}

/**
 * Why a cluster an earlier owner of ours left cannot be adopted, or null if it can: it was
 * still starting when that owner died, or its scheduler is gone (one being stopped just goes).
 */
function orphanFailure(record: ClusterState): string | null {
  const owner = `its owner, the dask-hpc sidecar (pid ${record.owner_pid}), ended`;
  if (record.status === 'starting') return `${owner} before the cluster was ready; what had started of it was stopped`;
  if (record.status === 'failed') return record.error ?? `${owner} after the cluster had failed`;
  if (record.status === 'stopping' || processAlive(record.scheduler_pid)) return null;
  return `${owner}, and the cluster's scheduler (pid ${record.scheduler_pid}) was gone when its successor looked`;
}
