import type { ClusterState } from '../../common/protocol';
import { NotFoundError } from '../errors';
import { describeHost, thisHost, whereabouts } from './host';
import { forgetDeadCluster, ownerRuns, schedulerRuns, type StateStore } from './state-store';

/** The records of a state directory that many nodes may share, sorted by where they were written. */
export interface RecordsByHost {
  /** This node's clusters whose owner or scheduler still runs. */
  here: ClusterState[];
  /** Other nodes' clusters, as recorded: read only, their pids mean nothing here. */
  elsewhere: ClusterState[];
}

/**
 * Reads the records; this node's dead ones (owner and scheduler both gone, or written before
 * this node's last boot) are cleared away on the way. A pid held now by another process (one
 * that started at another time, or another user's) is gone. Nothing of another node's is judged.
 */
export function recordsByHost(state: StateStore): RecordsByHost {
  const here = thisHost();
  const records: RecordsByHost = { here: [], elsewhere: [] };
  for (const cluster of state.list()) {
    const where = whereabouts(cluster, here);
    if (where === 'elsewhere') {
      records.elsewhere.push(cluster);
    } else if (where === 'here' && (ownerRuns(cluster) || schedulerRuns(cluster))) {
      records.here.push(cluster);
    } else {
      forgetDeadCluster(state, cluster);
    }
  }
  return records;
}

/** This node's live clusters. */
export function liveClustersHere(state: StateStore): ClusterState[] {
  return recordsByHost(state).here;
}

/**
 * This node's cluster with this id or name, for `command` (down, scale, adapt). One of another
 * node is refused with where to run the command instead: its pids are not ours to signal.
 */
export function findClusterHere(state: StateStore, idOrName: string, command: string): ClusterState {
  const { here, elsewhere } = recordsByHost(state);
  const matches = (c: ClusterState) => c.id === idOrName || c.name === idOrName;
  const cluster = here.find(matches);
  if (cluster) return cluster;
  const other = elsewhere.find(matches);
  if (other) throw new NotFoundError(`cluster ${other.id} runs on ${describeHost(other)}: run dask-hpc ${command} there`);
  throw new NotFoundError(`no cluster ${JSON.stringify(idOrName)}; dask-hpc ls lists them`);
}
