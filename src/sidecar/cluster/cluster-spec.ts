import type { ClusterMetrics, JobSystem, Plan, WorkerJobSpec } from '../../common/protocol';
import type { AllocationNode } from '../batch/node-launcher';
import type { JobPoller } from '../batch/job-poller';
import type { DaskProcessOptions } from '../process/dask-process';
import type { StartedProcess } from '../process/owned-process';

export interface ClusterSpec {
  id: string;
  name: string;
  plan: Plan;
  python: string;
  /** The scheduler preload that ends the cluster when its owner is gone. */
  lifelinePreload: string;
  /** The scheduler preload that loads the dashboard once the scheduler is up (deferred_dashboard.py). */
  dashboardPreload: string;
  lifelineSocket: string;
  /** Seconds an orphaned scheduler waits to be adopted before it closes. */
  adoptionGraceSeconds: number;
  controlSocket: string | null;
  readyTimeoutMs: number;
  /** How users reach the dashboard at this address: a URL (direct, or through Jupyter's proxy) and an ssh tunnel. */
  dashboardLinks: (httpAddress: string) => { dashboard_url: string; tunnel_command: string };
  /** Workers as batch jobs on other nodes instead of processes here. */
  workerJobs: WorkerJobsSpec | null;
  /** Workers on the nodes of the current allocation instead of processes here. */
  runner: RunnerSpec | null;
  /** The directory (0700, in the state directory: other nodes see it) of the cluster's TLS files. */
  securityDirectory: string;
  /** Where TLS files made ahead wait (startup/certificates-ahead.ts); null: always make them at the start. */
  certificatesAhead: string | null;
}

/** Runner mode: the plan's workers on each node of the allocation we run in. */
export interface RunnerSpec {
  system: JobSystem;
  nodes: AllocationNode[];
  /** The address on the chosen interface where the scheduler listens for the nodes' workers. */
  listenHost: string;
}

export interface WorkerJobsSpec {
  spec: WorkerJobSpec;
  /** Asks the batch system about the jobs of every cluster on it, and submits and cancels them. */
  poller: JobPoller;
  /** Job scripts and job output: on a filesystem the compute nodes share (the state directory). */
  jobDirectory: string;
  /** Where the scheduler's own directory is made on this node (the plan's is the jobs' nodes'). */
  schedulerRoot: string;
  /** The address on the chosen interface where the scheduler listens for the jobs' workers. */
  listenHost: string;
  initialJobs: number;
}

/** What a cluster asks of its scheduler through the lifeline socket (server/scheduler-api.ts). */
export interface SchedulerConnection {
  /** Resolves when the connection has closed: the scheduler is gone. */
  readonly closed: Promise<void>;
  adaptiveTarget(): Promise<number>;
  metrics(): Promise<ClusterMetrics>;
  workers(): Promise<{ name: string; address: string }[]>;
  retireWorkers(addresses: string[], timeoutMs: number): Promise<void>;
  close(): void;
}

/** How a cluster starts processes and reaches its scheduler: real ones, or fakes in tests. */
export interface ClusterDependencies {
  startProcess(options: DaskProcessOptions): StartedProcess;
  connectScheduler(socket: string): Promise<SchedulerConnection>;
}
