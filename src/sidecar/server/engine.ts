import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { ClusterEvent, ClusterState, JobSystem, Plan, Resources, WorkerJobSpec } from '../../common/protocol';
import { allocationNodes } from '../batch/allocation';
import { batchCommands } from '../batch/batch-commands';
import { JobPoller } from '../batch/job-poller';
import { renderJobScript } from '../batch/job-script';
import { adoptCluster, failOrphan as failOrphanCluster } from '../cluster/adopt';
import { Cluster, type ClusterSpec, type RunnerSpec, type WorkerJobsSpec } from '../cluster/cluster';
import { preloadPath } from '../cluster/preloads';
import { ClusterStartError, NotFoundError } from '../errors';
import { detectResources, type Environment } from '../node/detect';
import { withJobfsUse } from '../node/jobfs-use';
import { localDirectoryRoot } from '../node/plan';
import { scaleCheckFor } from '../node/node-share';
import {
  checkClusterRequest,
  checkJobScriptRequest,
  checkPlanRequest,
  runnerUnavailable,
  type ClusterRequest,
  type RequestContext
} from '../requests/cluster-request';
import { checkScaleRequest } from '../requests/scale-request';
import { AHEAD_DIRECTORY, writeCertificatesAhead } from '../startup/certificates-ahead';
import { thisHost, whereabouts } from '../state/host';
import { forgetDeadCluster, ownerRuns, schedulerRuns, StateStore } from '../state/state-store';
import { clusterSecurityFiles } from '../tls/cluster-tls';
import { dashboardLinks } from './dashboard-links';

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

export type { ClusterRequest } from '../requests/cluster-request';

/**
 * The engine: detect, plan, and the clusters this process owns. The CLI and the sidecar's
 * HTTP API both drive it; it records every change in the state store and emits it as an event.
 */
export class Engine extends EventEmitter<{ event: [ClusterEvent] }> {
  private readonly clusters = new Map<string, Cluster>();
  /** One poller per batch system: one status question for the jobs of every cluster on it. */
  private readonly pollers = new Map<JobSystem, JobPoller>();

  constructor(readonly options: EngineOptions) {
    super();
  }

  resources(): Resources {
    const detected = detectResources({ env: this.options.env, root: this.options.root });
    return { ...detected, runner_unavailable: runnerUnavailable(detected.batch_system, this.options.env) };
  }

  /** GET resources, as the sidebar polls it: with what the job's jobfs directory takes now. */
  resourcesWithJobfsUse(): Resources {
    return withJobfsUse(this.resources());
  }

  plan(body: unknown): Plan {
    return checkPlanRequest(body, this.requestContext());
  }

  /** Checks a cluster request completely, so bad input creates nothing. */
  checkClusterRequest(body: unknown): ClusterRequest {
    return checkClusterRequest(body, this.requestContext());
  }

  /** One request's view of the node: detected once, however many checks ask. */
  private requestContext(): RequestContext {
    let resources: Resources | null = null;
    return { env: this.options.env, resources: () => (resources ??= this.resources()), clusters: () => this.list() };
  }

  /**
   * The script one worker job of this request would run, without submitting anything (as
   * dask-jobqueue's job_script()). The scheduler's port is known only once it runs.
   */
  jobScript(body: unknown): { script: string; plan: Plan; listen_address: string } {
    const { spec, plan, listenHost, name: given } = checkJobScriptRequest(body, this.resources());
    const name = given ?? 'dask-ID';
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

  private pollerFor(system: JobSystem): JobPoller {
    let poller = this.pollers.get(system);
    if (!poller) this.pollers.set(system, (poller = new JobPoller(batchCommands(system))));
    return poller;
  }

  /** What the batch system needs to run, track and cancel this cluster's jobs. */
  private workerJobsSpec(id: string, spec: WorkerJobSpec, initial: number, listenHost: string): WorkerJobsSpec {
    return {
      spec,
      poller: this.pollerFor(spec.system),
      jobDirectory: this.options.store.pathFor(id, '.jobs'),
      schedulerRoot: localDirectoryRoot(this.resources()),
      listenHost,
      initialJobs: initial
    };
  }

  /**
   * Creates a cluster from a checked request. Returns at once with the cluster "starting";
   * `ready` settles when it runs or has failed (and then nothing of it is left).
   */
  private clusterSpec(
    id: string,
    name: string,
    plan: Plan,
    workerJobs: WorkerJobsSpec | null = null,
    runner: RunnerSpec | null = null
  ): ClusterSpec {
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
      dashboardLinks: address =>
        dashboardLinks(address, { baseUrl: this.options.baseUrl ?? null, clusterId: id, resources, env: this.options.env }),
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
    const jobs =
      request.workerJobs && this.workerJobsSpec(id, request.workerJobs.spec, request.workerJobs.initialJobs, request.workerJobs.listenHost);
    const cluster = new Cluster(this.clusterSpec(id, request.name ?? `dask-${id}`, request.plan, jobs, request.runner ?? null), state =>
      this.record(state)
    );
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
      if (ownerRuns(record) && record.owner_pid !== process.pid) continue;
      const reason = record.control_socket === this.options.controlSocket && !this.clusters.has(record.id) && orphanFailure(record);
      if (reason) {
        try {
          await this.failOrphan(record, reason);
        } catch (error) {
          // A record that passed its check yet cannot be rebuilt: never the sidecar's end.
          process.stderr.write(`dask-hpc: warning: cluster ${record.id}'s record cannot be taken over: ${(error as Error).message}\n`);
        }
        continue;
      }
      if (!schedulerRuns(record)) {
        forgetDeadCluster(this.options.store, record, this.options.controlSocket);
        continue;
      }
      if (record.control_socket !== this.options.controlSocket || this.clusters.has(record.id)) continue;
      try {
        const jobs = record.worker_jobs ? this.workerJobsSpec(record.id, record.worker_jobs, 0, '') : null;
        // The same job, so the same nodes: read again for the launcher's node indexes.
        const runner = record.runner
          ? { system: record.runner.system, nodes: allocationNodes(record.runner.system, this.options.env), listenHost: '' }
          : null;
        const cluster = await adoptCluster(this.clusterSpec(record.id, record.name, record.plan, jobs, runner), record, state =>
          this.record(state)
        );
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
    const cluster = await failOrphanCluster(spec, record, reason, state => this.record(state));
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

  /** PATCH: a fixed size, an adaptive range, or adaptive off (requests/scale-request.ts). */
  async scale(idOrName: string, body: unknown): Promise<ClusterState> {
    const cluster = this.get(idOrName);
    const { placement } = cluster;
    const action = checkScaleRequest(body, {
      unitsFor: workers => cluster.unitsFor(workers),
      maxUnits: placement.maxUnits,
      workersPerUnit: placement.workersPerUnit,
      checkFit: scaleCheckFor(cluster.state, this.list(), () => this.resources())
    });
    if ('units' in action) await cluster.scale(action.units);
    else if ('adaptive' in action) await cluster.adapt(action.adaptive);
    else await cluster.scale(cluster.state.workers.length);
    return cluster.state;
  }

  async stop(idOrName: string): Promise<ClusterState> {
    const cluster = this.get(idOrName);
    await cluster.stop();
    this.forget(cluster.state.id);
    return cluster.state;
  }

  /**
   * Commits the stop and answers at once: the record says "stopping" and the cluster's files
   * have left its directory; this engine ends its processes and forgets it after, whoever waits.
   */
  beginStop(idOrName: string): ClusterState {
    const cluster = this.get(idOrName);
    this.stop(cluster.state.id).catch(error => {
      process.stderr.write(`dask-hpc: stopping cluster ${cluster.state.id}: ${(error as Error).message}\n`);
    });
    return { ...cluster.state };
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
  if (record.status === 'stopping' || schedulerRuns(record)) return null;
  return `${owner}, and the cluster's scheduler (pid ${record.scheduler_pid}) was gone when its successor looked`;
}
