import type { ClusterState } from '../../common/protocol';
import { AdoptedProcess } from '../process/adopted-process';
import { thisProcess } from '../process/process-identity';
import { terminateRecorded } from '../process/terminate';
import { Cluster, daskDependencies } from './cluster';
import type { ClusterDependencies, ClusterSpec } from './cluster-spec';
import { belongsTo } from './worker-unit';

/**
 * Takes over a running cluster whose owner died (the sidecar after SIGKILL): holds its
 * scheduler's lifeline socket so it stays up, and manages its workers by pid or job id and
 * through that socket. Rejects if the scheduler is gone or does not answer.
 */
export async function adoptCluster(
  spec: ClusterSpec,
  record: ClusterState,
  onChange: (state: ClusterState) => void,
  dependencies: ClusterDependencies = daskDependencies
): Promise<Cluster> {
  const cluster = new Cluster(spec, onChange, dependencies);
  const owner = thisProcess();
  Object.assign(cluster.state, record, {
    owner_pid: owner.pid,
    owner_start_time: owner.startTime,
    control_socket: spec.controlSocket,
    status: 'running'
  });
  const api = await dependencies.connectScheduler(spec.lifelineSocket);
  let addresses: { name: string; address: string }[];
  try {
    addresses = await api.workers();
  } catch (error) {
    api.close();
    throw error;
  }
  const { placement, supervisor } = cluster;
  for (const worker of record.workers) {
    if (worker.status === 'exited') continue;
    const name = placement.adoptedUnitName(worker);
    let unit = supervisor.units.get(name);
    if (!unit) {
      unit = placement.adoptUnit(name, worker);
      supervisor.units.set(name, unit);
    }
    unit.members?.set(worker.name, { ...worker });
    for (const known of addresses.filter(w => belongsTo(w.name, name))) unit.addresses.add(known.address);
    cluster.skipUnitIndex(Number(/-(\d+)$/.exec(name)?.[1] ?? -1));
  }
  cluster.attachScheduler(new AdoptedProcess(record.scheduler_pid, record.scheduler_start_time ?? null), api);
  cluster.changed();
  return cluster;
}

/**
 * A cluster of an earlier owner that cannot be adopted: it died before the cluster was ready,
 * or the cluster's processes are gone. What is left of it is ended; it shows as failed, with
 * the reason, until it is deleted.
 */
export async function failOrphan(
  spec: ClusterSpec,
  record: ClusterState,
  reason: string,
  onChange: (state: ClusterState) => void
): Promise<Cluster> {
  const cluster = new Cluster(spec, onChange);
  Object.assign(cluster.state, record, {
    owner_pid: process.pid,
    owner_start_time: thisProcess().startTime,
    control_socket: spec.controlSocket,
    status: 'failed',
    error: reason,
    workers: []
  });
  // Its workers first, while their scheduler may still answer (see Cluster.teardown).
  const workers = new Map(record.workers.map(worker => [worker.pid, { pid: worker.pid, startTime: worker.start_time }]));
  await terminateRecorded([...workers.values()]);
  await terminateRecorded([{ pid: record.scheduler_pid, startTime: record.scheduler_start_time }]);
  await cluster.teardown();
  return cluster;
}
