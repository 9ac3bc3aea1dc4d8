import { join } from 'node:path';
import type { ClusterWorker } from '../../common/protocol';
import { nodeLauncher, type AllocationNode } from '../batch/node-launcher';
import { checkedOnTheHost } from '../batch/private-root-shell';
import { AdoptedProcess } from '../process/adopted-process';
import { startTimeOf } from '../process/process-identity';
import { tlsFlags } from '../tls/cluster-tls';
import { clusterEnvironment } from './cluster-environment';
import type { RunnerSpec } from './cluster-spec';
import { startInParallel, type PlacementContext, type WorkerPlacement } from './placement';
import { workerArgs } from './worker-args';
import type { WorkerUnit } from './worker-unit';

/** Runner mode: the plan's workers on each node of the current allocation, through srun or pbsdsh. */
export class RunnerNodes implements WorkerPlacement {
  readonly maxUnits: number;
  readonly schedulerHost: string;

  constructor(
    private readonly cluster: PlacementContext,
    private readonly runner: RunnerSpec
  ) {
    this.maxUnits = runner.nodes.length;
    this.schedulerHost = runner.listenHost;
  }

  get workersPerUnit(): number {
    return this.cluster.spec.plan.n_workers;
  }

  get localRoot(): string {
    return this.cluster.spec.plan.local_directory;
  }

  describe(): string {
    return `${this.workersPerUnit} workers on each of the ${this.runner.nodes.length} node(s) of this ${this.runner.system} job`;
  }

  environment(): Record<string, string> {
    return {};
  }

  recordFields() {
    return { worker_jobs: null, runner: { system: this.runner.system, nodes: this.runner.nodes.map(node => node.host) } };
  }

  async startInitial(schedulerUp: Promise<void>): Promise<void> {
    await schedulerUp;
    await this.grow(this.runner.nodes.length);
  }

  size(): number {
    return this.cluster.supervisor.activeUnits().length;
  }

  grow(count: number): Promise<void> {
    return startInParallel(count, () => this.startUnit());
  }

  shrink(_current: number, target: number): Promise<void> {
    const { supervisor } = this.cluster;
    return supervisor.retireUnits(supervisor.activeUnits().slice(target));
  }

  replace(_unit: WorkerUnit, restarts: number[]): Promise<void> {
    return this.startUnit(restarts[0]);
  }

  adoptedUnitName(worker: ClusterWorker): string {
    return worker.name;
  }

  adoptUnit(name: string, worker: ClusterWorker): WorkerUnit {
    return {
      info: { ...worker, name },
      process: new AdoptedProcess(worker.pid, worker.start_time ?? null),
      addresses: new Set(),
      members: null
    };
  }

  workersChanged(): void {
    this.cluster.changed();
  }

  teardown(): void {}

  /** The plan's workers on a free node of the allocation. */
  private async startUnit(restarts = 0): Promise<void> {
    const { spec, state, security } = this.cluster;
    const { plan } = spec;
    const name = `${state.name}-${this.cluster.nextUnitIndex()}`;
    const node = this.freeNode();
    const localDirectory = join(state.local_directory, name);
    const env = { ...this.cluster.environment(), ...clusterEnvironment(plan, localDirectory) };
    const process = this.cluster.dependencies.startProcess({
      python: spec.python,
      kind: 'worker',
      // On that host, the cluster root is checked as on this one before the workers start there.
      launcher: [
        ...nodeLauncher(this.runner.system, node, plan.n_workers * plan.threads_per_worker, env),
        ...checkedOnTheHost(this.localRoot, localDirectory)
      ],
      // The node's workers listen on the interface that reaches the scheduler.
      args: [
        state.scheduler_address as string,
        '--name',
        name,
        '--nworkers',
        String(plan.n_workers),
        ...workerArgs(plan, localDirectory),
        ...tlsFlags(security)
      ],
      env,
      logFile: join(state.local_directory, `${name}.log`)
    });
    const unit: WorkerUnit = {
      info: { name, status: 'starting', pid: process.pid, start_time: startTimeOf(process.pid), restarts, host: node.host, registered: 0 },
      process,
      addresses: new Set(),
      members: null
    };
    await this.cluster.supervisor.supervise(unit, process, plan.n_workers);
  }

  /** A node of the allocation without workers of ours yet. */
  private freeNode(): AllocationNode {
    const used = new Set(this.cluster.supervisor.activeUnits().map(unit => unit.info.host));
    const node = this.runner.nodes.find(n => !used.has(n.host));
    if (!node) throw new Error(`every one of the allocation's ${this.runner.nodes.length} node(s) has workers already`);
    return node;
  }
}
