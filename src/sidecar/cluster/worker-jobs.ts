import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterWorker } from '../../common/protocol';
import { renderJobScript, workerLifetime } from '../batch/job-script';
import { jobNodes } from '../../common/worker-count';
import type { JobPoller } from '../batch/job-poller';
import { WorkerJob } from '../batch/worker-job';
import { removeTree } from '../state/state-store';
import type { WorkerJobsSpec } from './cluster-spec';
import { DEFAULT_MAX_QUEUED } from '../../common/job-notes';
import { JobBacklog, type PendingJob } from './job-backlog';
import type { PlacementContext, WorkerPlacement } from './placement';
import type { WorkerUnit } from './worker-unit';

/**
 * Jobs submitted in place of ones that ended early (qdel, a node failure), at most, in a
 * cluster's life (as local units, supervision.ts); jobs whose workers retired at their lifetime
 * are replaced without limit: a cluster outlives many walltimes.
 */
const MAX_JOB_REPLACEMENTS = 10;

/**
 * Workers as batch jobs on other nodes: each job runs the plan's workers. A job waits in the
 * queue for as long as it takes; the batch system, not us, decides when it ends.
 */
export class WorkerJobs implements WorkerPlacement {
  readonly maxUnits = null;
  readonly schedulerHost: string;
  readonly localRoot: string;
  private readonly poller: JobPoller;
  /** This cluster's jobs that the poller asks about: forgotten at teardown. */
  private readonly jobs = new Set<WorkerJob>();
  /** Jobs submitted in place of ones that ended early while the cluster ran. */
  private replacedJobs = 0;
  /** When each job's workers had all registered (Date.now()): how long they ran, when the job ends. */
  private readonly runningSince = new Map<WorkerUnit, number>();
  /** Jobs held back while the cluster has its most jobs queued. */
  private readonly backlog: JobBacklog;

  constructor(
    private readonly cluster: PlacementContext,
    private readonly jobsSpec: WorkerJobsSpec
  ) {
    this.schedulerHost = jobsSpec.listenHost;
    this.localRoot = jobsSpec.schedulerRoot; // the plan's local directory is the jobs' nodes'
    this.poller = jobsSpec.poller;
    const queuedNow = () => cluster.supervisor.activeUnits().filter(unit => unit.info.job_state === 'queued').length;
    this.backlog = new JobBacklog(
      jobsSpec.spec.max_queued ?? DEFAULT_MAX_QUEUED,
      queuedNow,
      pending => this.submitJob(pending),
      () => {
        cluster.state.jobs_to_submit = this.backlog.size;
        cluster.changed();
      }
    );
  }

  /** A job's workers: the plan's on each of its hosts. */
  get workersPerUnit(): number {
    return this.cluster.spec.plan.n_workers * jobNodes(this.jobsSpec.spec);
  }

  /** The batch system's name of every worker job of this cluster. */
  private get jobName(): string {
    return `dask-${this.cluster.state.id}`;
  }

  describe(): string {
    const nodes = jobNodes(this.jobsSpec.spec);
    const hosts = nodes > 1 ? ` on ${nodes} hosts` : '';
    return `${this.jobsSpec.spec.system} worker jobs of ${this.workersPerUnit} workers each${hosts}`;
  }

  /** The lifeline cancels the jobs by name if the owner dies: queued jobs must not start later. */
  environment(): Record<string, string> {
    return { DASK_HPC_WORKER_JOBS: JSON.stringify({ system: this.jobsSpec.spec.system, name: this.jobName }) };
  }

  recordFields() {
    return { worker_jobs: this.jobsSpec.spec, runner: null };
  }

  /** The cluster runs once its jobs are submitted; the card shows them queued, then running. */
  async startInitial(schedulerUp: Promise<void>): Promise<void> {
    await schedulerUp;
    await this.grow(this.jobsSpec.initialJobs);
  }

  /** Jobs submitted and jobs held back alike: scaling and adaptive count what the cluster means to have. */
  size(): number {
    return this.cluster.supervisor.activeUnits().length + this.backlog.size;
  }

  grow(count: number): Promise<void> {
    return this.backlog.add(Array.from({ length: count }, () => null));
  }

  /** Takes back jobs not yet submitted first, then retires queued jobs before running ones. */
  shrink(current: number, target: number): Promise<void> {
    this.backlog.drop(current - target);
    const { supervisor } = this.cluster;
    return supervisor.retireUnits(supervisor.activeUnits().slice(target - this.backlog.size));
  }

  /** Replacing a job is onJobState's: the batch system, not a process exit, says it ended. */
  replace(): null {
    return null;
  }

  adoptedUnitName(worker: ClusterWorker): string {
    return worker.name;
  }

  adoptUnit(name: string, worker: ClusterWorker): WorkerUnit {
    return { info: { ...worker, name }, process: this.trackJob(name, worker.job_id as string), addresses: new Set(), members: null };
  }

  workersChanged(unit: WorkerUnit): void {
    const job = unit.process as WorkerJob;
    // Workers from a job the batch system last called queued: it runs now, whatever the last
    // answer said; waiting for the next one showed "workers 2/2 in jobs 0/1".
    const leftTheQueue = unit.addresses.size > 0 && job.state === 'queued';
    if (leftTheQueue) job.update({ state: 'running', reason: null });
    unit.info.registered = unit.addresses.size;
    unit.info.job_state = job.state;
    unit.info.job_reason = job.reason;
    // As onJobState: a job that left the queue makes room for one held back.
    if (leftTheQueue) this.backlog.release().catch(error => this.submissionFailed(error));
    this.poller.setSettled(job, unit.addresses.size >= this.workersPerUnit);
    if (unit.info.status === 'starting' && unit.addresses.size >= this.workersPerUnit) {
      unit.info.status = 'running';
      this.runningSince.set(unit, Date.now());
    }
    this.cluster.changed();
  }

  teardown(): void {
    this.backlog.clear();
    for (const job of this.jobs) this.poller.forget(job);
    this.jobs.clear();
    removeTree(this.jobsSpec.jobDirectory);
  }

  /**
   * What the batch system says of a job: queued, running, or gone. A job whose workers ran and
   * left (walltime, qdel) is replaced by a new job, so the cluster keeps its size; one that
   * ended before its workers joined is an error with its log's tail: another would end the same way.
   */
  private onJobState(job: WorkerJob): void {
    const { supervisor } = this.cluster;
    const unit = [...supervisor.units.values()].find(u => u.process === job);
    if (!unit) return;
    const finished = job.state === 'finished';
    const retiredAtLifetime = finished && this.ranTheirLifetime(unit);
    if (finished) this.runningSince.delete(unit);
    if (finished && unit.info.status !== 'retiring' && !this.cluster.isStopping) {
      const ranWorkers = unit.info.status === 'running';
      unit.info.status = 'exited';
      if (!ranWorkers) {
        this.cluster.reportError(`worker job ${unit.info.name} (${job.jobId}) ended before its workers joined:\n${job.tail()}`);
      } else if (!retiredAtLifetime && this.replacedJobs >= MAX_JOB_REPLACEMENTS) {
        this.cluster.reportError(
          `worker job ${unit.info.name} (${job.jobId}) ended; not replaced: ${MAX_JOB_REPLACEMENTS} jobs have ended early already:\n${job.tail()}`
        );
      } else {
        if (!retiredAtLifetime) this.replacedJobs++;
        supervisor.units.delete(unit.info.name);
        this.cluster.changed();
        const replaces = { job_id: job.jobId, reason: retiredAtLifetime ? 'lifetime' : 'ended', at: new Date().toISOString() } as const;
        this.backlog.add([replaces]).catch(error => {
          if (this.cluster.isStopping) return;
          this.cluster.reportError(
            `worker job ${unit.info.name} (${job.jobId}) ended; its replacement was not submitted: ${(error as Error).message}`
          );
          this.cluster.changed();
        });
        return;
      }
    }
    this.workersChanged(unit);
    // A job that left the queue makes room for one held back.
    this.backlog.release().catch(error => this.submissionFailed(error));
  }

  private submissionFailed(error: unknown): void {
    if (this.cluster.isStopping) return;
    this.cluster.reportError(`a worker job held back by the queue limit was not submitted: ${(error as Error).message}`);
    this.cluster.changed();
  }

  /**
   * Whether a job's workers ran for their lifetime, so they retired before the walltime as
   * planned: registered for at least the shortest lifetime, less another stagger for the time
   * between a worker's start (when its lifetime begins) and its registration.
   */
  private ranTheirLifetime(unit: WorkerUnit): boolean {
    const since = this.runningSince.get(unit);
    const { lifetime, stagger } = workerLifetime(this.jobsSpec.spec.walltime);
    return since !== undefined && Date.now() - since >= (lifetime - 2 * stagger) * 1000;
  }

  private trackJob(name: string, jobId: string): WorkerJob {
    const job = new WorkerJob(jobId, join(this.jobsSpec.jobDirectory, `${name}.log`), this.poller);
    this.jobs.add(job);
    job.onFinished(() => this.jobs.delete(job));
    this.poller.track(job, changed => this.onJobState(changed));
    return job;
  }

  /** Writes a worker job's script and submits it; resolves once the batch system has it. */
  private async submitJob(replaces: PendingJob): Promise<void> {
    const { spec, poller, jobDirectory } = this.jobsSpec;
    const { state } = this.cluster;
    const name = `${state.name}-job-${this.cluster.nextUnitIndex()}`;
    mkdirSync(jobDirectory, { recursive: true, mode: 0o700 });
    const script = renderJobScript(spec, {
      clusterId: state.id,
      jobName: this.jobName,
      workerName: name,
      schedulerAddress: state.scheduler_address as string,
      python: this.cluster.spec.python,
      logFile: join(jobDirectory, `${name}.log`),
      security: this.cluster.security
    });
    const scriptPath = join(jobDirectory, `${name}.sh`);
    writeFileSync(scriptPath, script, { mode: 0o600 });
    let jobId: string;
    try {
      jobId = await poller.commands.submit(scriptPath, jobDirectory);
    } catch (error) {
      throw new Error(`worker job ${name} was not submitted: ${(error as Error).message}`);
    }
    const unit: WorkerUnit = {
      info: {
        name,
        status: 'starting',
        pid: null,
        restarts: 0,
        job_id: jobId,
        job_state: 'queued',
        job_reason: null,
        registered: 0,
        replaces
      },
      process: this.trackJob(name, jobId),
      addresses: new Set(),
      members: null
    };
    this.cluster.supervisor.units.set(name, unit);
    this.cluster.changed();
  }
}
