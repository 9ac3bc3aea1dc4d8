/**
 * The protocol between the sidecar, the server extension and the lab plugin: the one
 * definition of resources, plans, clusters and events (DESIGN.md). Keys are snake_case
 * because they travel as JSON to Python and back untouched.
 */

export type BatchSystem = 'pbs' | 'slurm' | 'none';

export type Workload = 'cpu' | 'io' | 'mixed';

export const WORKLOADS: readonly Workload[] = ['cpu', 'io', 'mixed'];

/** Which input decided each figure, e.g. "PBS_NCPUS" or "cgroup v2 memory.max (/sys/fs/cgroup/job/memory.max)". */
export interface ResourceSources {
  cores: string;
  memory: string;
  jobfs: string;
}

/** What `dask-hpc detect --json` prints: the node as this job sees it. */
/**
 * What the job this runs in asked its batch system for (PBS `qstat -f -F json`, Slurm
 * `scontrol show job -o`); each field null where the batch system did not say or was not asked.
 */
export interface JobRequest {
  /** PBS_JOBID or SLURM_JOB_ID. */
  id: string;
  /** PBS `project` (-P; OpenPBS's _pbs_project_default is null), else Account_Name (-A); Slurm Account. */
  project: string | null;
  /** PBS queue; Slurm Partition. */
  queue: string | null;
  /** PBS Resource_List.storage (Gadi's -l storage); null on Slurm. */
  storage: string | null;
  /** PBS Resource_List.walltime; Slurm TimeLimit (UNLIMITED is null). */
  walltime_seconds: number | null;
  /** ISO 8601 UTC: PBS stime + walltime; Slurm SLURM_JOB_END_TIME, else EndTime. */
  ends_at: string | null;
  /** PBS Resource_List.jobfs; Slurm MinTmpDiskNode (--tmp; 0 is null). */
  jobfs_request_bytes: number | null;
}

export interface Resources {
  batch_system: BatchSystem;
  job_id: string | null;
  hostname: string;
  cores: number;
  memory_bytes: number;
  /** The node-local job filesystem, or null when none is known (spill then goes to /tmp). */
  jobfs: string | null;
  jobfs_free_bytes: number | null;
  /** The job filesystem's whole size, for the bar of what is used (null when unknown). */
  jobfs_size_bytes?: number | null;
  /** This node's part of the job's jobfs request (PBS's `jobfs` is the job's, spread over its nodes); null when unknown. */
  jobfs_request_node_bytes?: number | null;
  /**
   * What the job's own jobfs directory (PBS_JOBFS, SLURM_TMPDIR) takes on disk now, as du counts;
   * measured (within 250 ms) only where the request is known, else null.
   */
  jobfs_used_bytes?: number | null;
  /** False when that walk ran out of time: jobfs_used_bytes is then at least what it counted. */
  jobfs_used_complete?: boolean | null;
  gpus: number;
  /** Hosts of the allocation (PBS_NODEFILE, SLURM_JOB_NUM_NODES), this one included. */
  node_count: number;
  sources: ResourceSources;
  /** Every raw figure read, by the name of its variable or file, for the curious and the UI's hover. */
  inputs: Record<string, string | number | null>;
  warnings: string[];
  /** The job's own request from its batch system; null outside a job. */
  job?: JobRequest | null;
  /** Why runner mode (workers on every node of this job) cannot run here; null when it can. Set by the engine. */
  runner_unavailable?: string | null;
}

/** Dask's worker memory thresholds, as fractions of the worker's memory limit. */
export interface Thresholds {
  target: number;
  spill: number;
  pause: number;
  terminate: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = {
  target: 0.75,
  spill: 0.85,
  pause: 0.92,
  terminate: 0.98
};

/** What a user asks for; every field but workload is optional. `*_gb` are GiB. */
export interface PlanRequest {
  workload: Workload;
  max_workers?: number | null;
  reserve_mem_gb?: number | null;
  max_mem_gb?: number | null;
  thresholds?: Partial<Thresholds>;
}

/** What `dask-hpc plan --json` prints. */
export interface Plan {
  workload: Workload;
  n_workers: number;
  threads_per_worker: number;
  processes: boolean;
  memory_limit_bytes: number;
  reserve_bytes: number;
  usable_memory_bytes: number;
  /** Where the cluster's own directory (temp and spill) is made, one per cluster. */
  local_directory: string;
  thresholds: Thresholds;
  recommended_chunk_bytes: number;
  /**
   * Each worker's `distributed.worker.memory.max-spill`: bytes of spill files at most (0: spill
   * off), null for no cap (Dask's `false`), as where no jobfs request is known. Absent in older records.
   */
  max_spill_bytes?: number | null;
  /** How max_spill_bytes was reached: the request, the margin, the worker's share. */
  max_spill_source?: string;
  warnings: string[];
}

export type ClusterStatus = 'starting' | 'running' | 'scaling' | 'stopping' | 'stopped' | 'failed';

export type WorkerStatus = 'starting' | 'running' | 'retiring' | 'exited';

export interface ClusterWorker {
  /** A local worker's name; for worker jobs, the job's (its workers are NAME or NAME-0, NAME-1, …). */
  name: string;
  status: WorkerStatus;
  /**
   * The `dask worker` process that runs it: local workers started together share one (its
   * nannies fork the worker processes); a runner node's srun/pbsdsh; null for a batch job.
   */
  pid: number | null;
  /** When that process started (/proc/PID/stat field 22): a pid reused since names another process. Null if unknown. */
  start_time?: number | null;
  /** How often its nanny restarted the worker process (killed, out of memory). */
  restarts: number;
  /** Worker jobs only: the batch system's job id and what the batch system says of it. */
  job_id?: string | null;
  job_state?: JobState | null;
  /**
   * Worker jobs, while queued: why the batch system keeps it waiting, in its own words (PBS's
   * `comment`, Slurm's `state_reason`), control characters taken out, at most 200 characters;
   * null once it runs or when the batch system gives none. Absent in older records.
   */
  job_reason?: string | null;
  /** Worker jobs and runner nodes: how many of the unit's workers the scheduler has now. */
  registered?: number;
  /** Runner mode: the node of the allocation its workers run on. */
  host?: string | null;
  /** Worker jobs: the job this one was submitted in place of, why that one ended, and when. */
  replaces?: JobReplaced | null;
}

/** A worker job that ended while its cluster ran, and was replaced. */
export interface JobReplaced {
  job_id: string;
  /** `lifetime`: its workers retired before the walltime, as planned; `ended`: it ended early (qdel, a node lost). */
  reason: 'lifetime' | 'ended';
  /** ISO 8601, when the batch system said it had gone. */
  at: string;
}

export type JobSystem = 'pbs' | 'slurm';

/** PBS directives differ: Gadi's (-P project, -l ncpus/mem/jobfs/storage, -l wd, no select) or standard PBS Pro (select=1:…, -A). */
export type PbsDialect = 'gadi' | 'pbspro';

export type JobState = 'queued' | 'running' | 'finished';

/** One worker job's shape and where it is submitted; the plan for its workers comes from its cores and memory. */
export interface WorkerJobSpec {
  system: JobSystem;
  /** PBS only. */
  dialect: PbsDialect | null;
  /** Hosts per job (absent in older records: 1). cores, memory_bytes and jobfs_bytes are each host's; the plan is one host's workers. */
  nodes?: number;
  /** Each host's cores. */
  cores: number;
  /** Each host's memory. */
  memory_bytes: number;
  /** HH:MM:SS. Workers retire before it ends (dask's --lifetime). */
  walltime: string;
  /** PBS queue or Slurm partition. */
  queue: string | null;
  /** Gadi's -P project, PBS Pro's -A account, Slurm's --account. */
  account: string | null;
  /** Node-local disk for spill: Gadi's -l jobfs, Slurm's --tmp. */
  jobfs_bytes: number | null;
  /** Gadi's -l storage=gdata/ab12+scratch/ab12. */
  storage: string | null;
  /** Lines run before the workers start (module loads, environment activation); each is checked. */
  prologue: string[];
  /** The network interface the scheduler and workers use (ib0 where present). */
  interface: string | null;
  /** The most of the cluster's jobs waiting in the queue at once; more are submitted as these start. Absent in older records: 8. */
  max_queued?: number;
  /** Worker processes per job and their threads and memory, planned from the job's cores and memory. */
  plan: Plan;
  /** The fields not given that were taken from the job this runs in (its `job`); the script says so. */
  from_job?: JobDefault[];
}

/** A worker-job field taken from the job this runs in: account ← project, queue, storage; walltime ← the time it has left. */
export interface JobDefault {
  field: 'account' | 'queue' | 'storage' | 'walltime';
  value: string;
  job_id: string;
}

export interface AdaptiveRange {
  minimum: number;
  maximum: number;
}

/**
 * A cluster's TLS files (mode 0600 in a 0700 directory of this user's): its own certificate
 * authority, and the certificate and key that scheduler, workers and clients present. The
 * names are distributed.Security's.
 */
export interface ClusterSecurity {
  tls_ca_file: string;
  tls_cert: string;
  tls_key: string;
}

/** A cluster, as `dask-hpc up`, `ls` and the REST API describe it. */
export interface ClusterState {
  id: string;
  name: string;
  status: ClusterStatus;
  scheduler_address: string | null;
  scheduler_file: string;
  /** The dashboard as users reach it: through Jupyter's proxy under the sidecar, else direct. */
  dashboard_url: string | null;
  /** The scheduler's HTTP server itself, on 127.0.0.1. */
  dashboard_address: string | null;
  /** The ssh command that forwards the dashboard to a laptop (seed 000). */
  tunnel_command: string | null;
  local_directory: string;
  workers: ClusterWorker[];
  plan: Plan;
  adaptive: AdaptiveRange | null;
  python: string;
  /** The node the cluster runs on (its hostname, machine id) and that node's boot: pids mean something only there. */
  host: string;
  boot_id: string;
  machine_id?: string;
  owner_pid: number;
  /** When the owner and the scheduler started (/proc/PID/stat field 22, clock ticks since boot); null if unknown. */
  owner_start_time?: number | null;
  scheduler_pid: number | null;
  scheduler_start_time?: number | null;
  /** The owner's control socket: other dask-hpc processes stop and scale the cluster through it. */
  control_socket: string | null;
  created_at: string;
  /** Present when the workers run as batch jobs on other nodes: the shape of each job. */
  worker_jobs?: WorkerJobSpec | null;
  /** Worker jobs the cluster means to have but has not submitted: its `max_queued` jobs wait in the queue already. */
  jobs_to_submit?: number;
  /** Present in runner mode: the workers run on these nodes of the current allocation (srun / pbsdsh). */
  runner?: { system: JobSystem; nodes: string[] } | null;
  /** The scheduler speaks tls:// only; a client needs these (`connect()` and `dask-hpc run` use them). */
  security?: ClusterSecurity | null;
  error?: string;
}

/** GET clusters/{id}/metrics: what the workers use now, summed (from the scheduler's own figures). */
export interface ClusterMetrics {
  n_workers: number;
  memory_bytes: number;
  memory_limit_bytes: number;
  spilled_bytes: number;
  /** Summed over workers: 100 is one core busy. */
  cpu_percent: number;
}

export type ClusterEvent = { type: 'cluster'; cluster: ClusterState } | { type: 'cluster-removed'; id: string };
