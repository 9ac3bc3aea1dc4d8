import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterState } from '../../common/protocol';
import { InputError } from '../errors';
import { asClusterRecord, recordProblem } from './cluster-record';
import { openOwnDirectory } from './private-directory';
import { thisHost, whereabouts } from './host';
import { removeClusterFiles } from '../cluster/cluster-files';
import { recordedProcessRuns } from '../process/process-identity';

/** Cluster ids are ours: short lowercase hex, so an id can never name a path outside the state directory. */
export const CLUSTER_ID_PATTERN = /^[a-f0-9]{8,32}$/;

export function checkClusterId(id: string): string {
  if (!CLUSTER_ID_PATTERN.test(id)) {
    throw new InputError('id', `${JSON.stringify(id)} is not a cluster id (8 to 32 hex digits, as dask-hpc ls shows)`);
  }
  return id;
}

export { defaultStateDir } from './state-dir';

/**
 * The per-user record of running clusters (a 0700 directory of 0600 JSON files), so another
 * dask-hpc process can list and stop them and a restarted sidecar can adopt them. The
 * directory may be shared by many nodes (host.ts); the sockets are in `runtimeDir`, this node's own.
 */
export class StateStore {
  constructor(
    readonly dir: string,
    /** This node's directory for sockets (runtime-dir.ts). */
    readonly runtimeDir: string
  ) {
    openOwnDirectory(dir, 'set DASK_HPC_STATE_DIR to a directory of your own');
  }

  /** A file of this cluster's in the state directory, e.g. its TLS directory. */
  pathFor(id: string, suffix: string): string {
    return join(this.dir, `${checkClusterId(id)}${suffix}`);
  }

  /** A socket of this cluster's, on this node: its scheduler's lifeline. */
  socketFor(id: string, suffix: string): string {
    return join(this.runtimeDir, `${checkClusterId(id)}${suffix}`);
  }

  /** Writes the record whole or not at all; a full disk says so, and leaves no temp file. */
  save(cluster: ClusterState): void {
    const path = this.pathFor(cluster.id, '.json');
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, JSON.stringify(cluster, null, 2), { mode: 0o600 });
      renameSync(temporary, path); // atomic: readers never see half a record
    } catch (error) {
      rmSync(temporary, { force: true });
      const { code, message } = error as NodeJS.ErrnoException;
      throw new Error(
        code === 'ENOSPC' || code === 'EDQUOT'
          ? `no space left in ${this.dir} (${code}): free some and try again`
          : `cannot write ${path}: ${message}`
      );
    }
  }

  /**
   * The record of this id, or null if there is none or it is not a record of this shape
   * (cluster-record.ts): such a file is left where it is, and named in one warning.
   */
  load(id: string): ClusterState | null {
    const path = this.pathFor(id, '.json');
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.warnOnce(path, code ? (error as Error).message : 'it is not JSON');
      return null;
    }
    const problem = recordProblem(value, id);
    if (problem) {
      this.warnOnce(path, problem);
      return null;
    }
    return asClusterRecord(value as Record<string, unknown>);
  }

  list(): ClusterState[] {
    const clusters: ClusterState[] = [];
    for (const file of readdirSync(this.dir)) {
      const match = /^([a-f0-9]{8,32})\.json$/.exec(file);
      const cluster = match && this.load(match[1]);
      if (cluster) clusters.push(cluster);
    }
    return clusters.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  private readonly warned = new Set<string>();

  /** One line per bad file and process: a sidecar reads the directory again and again. */
  private warnOnce(path: string, problem: string): void {
    if (this.warned.has(path)) return;
    this.warned.add(path);
    process.stderr.write(`dask-hpc: warning: skipped ${path}: ${problem}; it is left as it is\n`);
  }

  remove(id: string): void {
    for (const suffix of ['.json', '.tls']) removeTree(this.pathFor(id, suffix));
    rmSync(this.socketFor(id, '.lifeline.sock'), { force: true });
  }
}

/** Removes a file or a tree if it is there; a path through a file (ENOTDIR) holds nothing of ours. */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
  }
}

/** Whether a record's owner still runs (the same process: pid, start time, this user). */
export function ownerRuns(cluster: ClusterState): boolean {
  return recordedProcessRuns({ pid: cluster.owner_pid, startTime: cluster.owner_start_time });
}

/** Whether a record's scheduler still runs (the same process: pid, start time, this user). */
export function schedulerRuns(cluster: ClusterState): boolean {
  return recordedProcessRuns({ pid: cluster.scheduler_pid, startTime: cluster.scheduler_start_time });
}

/**
 * Clears away what a cluster of this node whose processes are all gone left: its files,
 * its owner's socket, its record. A record of another node is never touched. One of an
 * earlier boot names processes and sockets of that boot: its socket path may be in use again.
 */
export function forgetDeadCluster(store: StateStore, cluster: ClusterState, socketInUse: string | null = null): void {
  const where = whereabouts(cluster, thisHost());
  if (where === 'elsewhere') return;
  removeClusterFiles(cluster.local_directory, cluster.name); // the user's files there stay
  const socket = cluster.control_socket;
  if (where === 'here' && socket && socket !== socketInUse && !ownerRuns(cluster)) rmSync(socket, { force: true });
  store.remove(cluster.id);
}
