import type { ClusterState } from '../../common/protocol';
import { describeHeldBack, describeQueueReason, describeReplacement } from '../../common/job-notes';
import { describeWorkerCount } from '../../common/worker-count';
import { batchCommands } from '../batch/batch-commands';
import { terminateRecorded } from '../process/terminate';
import { numberFlag } from '../requests/flag-checks';
import { describeHost, thisHost } from '../state/host';
import { findClusterHere, liveClustersHere, recordsByHost } from '../state/host-records';
import { forgetDeadCluster, type StateStore } from '../state/state-store';
import { store } from './environment';
import { printJson } from './output';
import { InputError } from '../errors';
import { askOwner } from './owner-client';
import { parse, UsageError } from './parse';

// The commands that read the state records and ask each cluster's owner: ls, down, scale, adapt, paths.

export function ls(args: string[]): number {
  const { values } = parse(args, { json: { type: 'boolean' }, 'all-hosts': { type: 'boolean' } });
  const { here, elsewhere } = recordsByHost(store());
  const clusters = values['all-hosts'] ? [...here, ...elsewhere.map(c => ({ ...c, host: c.host ?? null }))] : here;
  if (values.json) {
    printJson(clusters);
    return 0;
  }
  for (const c of here) {
    process.stdout.write(
      `${c.id}  ${c.name}  ${c.status}  workers ${describeWorkerCount(c)}  ${c.scheduler_address}  ${c.dashboard_url}\n`
    );
    const notes = [describeHeldBack(c), ...c.workers.flatMap(w => [describeReplacement(w), describeQueueReason(w)])].filter(Boolean);
    for (const note of notes) process.stdout.write(`    ${note}\n`);
    // A running cluster can have an error too (a worker job that died): the card shows it, and so does ls.
    if (c.error) {
      process.stdout.write(
        c.error
          .split('\n')
          .map(line => `    ${line}\n`)
          .join('')
      );
    }
  }
  // Another node's record says what it was when written: its processes cannot be checked from here.
  if (values['all-hosts']) for (const c of elsewhere) process.stdout.write(`${c.id}  ${c.name}  ${c.status}  on ${describeHost(c)}\n`);
  return 0;
}

/** Stops a cluster whose owner is gone: cancels its worker jobs, ends its processes, removes its files. */
async function stopOrphan(state: StateStore, cluster: ClusterState): Promise<void> {
  if (cluster.worker_jobs) {
    const jobIds = cluster.workers.map(w => w.job_id).filter((id): id is string => !!id);
    await batchCommands(cluster.worker_jobs.system)
      .cancel(jobIds)
      .catch(error => process.stderr.write(`dask-hpc: ${(error as Error).message}\n`));
  }
  // Only the recorded processes: a pid reused since (another start time, another user) is left alone.
  await terminateRecorded([
    { pid: cluster.scheduler_pid, startTime: cluster.scheduler_start_time },
    ...cluster.workers.map(w => ({ pid: w.pid, startTime: w.start_time }))
  ]);
  forgetDeadCluster(state, cluster);
}

export async function down(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { all: { type: 'boolean' } });
  const state = store();
  if (!values.all && positionals.length === 0) throw new UsageError('down needs cluster ids or names, or --all');
  const clusters = values.all ? liveClustersHere(state) : positionals.map(idOrName => findClusterHere(state, idOrName, 'down'));
  await Promise.all(
    clusters.map(async cluster => {
      if ((await askOwner(cluster, 'DELETE')) === null) await stopOrphan(state, cluster);
      process.stdout.write(`stopped ${cluster.id} (${cluster.name})\n`);
    })
  );
  return 0;
}

/** A PATCH to the owner; a refusal names the flag the user types rather than the body's field. */
async function patchOwner(cluster: ClusterState, body: Record<string, unknown>): Promise<ClusterState | null> {
  try {
    return await askOwner(cluster, 'PATCH', body);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new InputError(error.field, error.message.replace('(overcommit:', '(--overcommit:'));
  }
}

export async function scale(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { overcommit: { type: 'boolean' } });
  if (positionals.length !== 2) throw new UsageError('scale takes a cluster id or name and a number of workers');
  const workers = numberFlag({ workers: positionals[1] }, 'workers');
  const cluster = findClusterHere(store(), positionals[0], 'scale');
  const result = await patchOwner(cluster, { n_workers: workers, ...(values.overcommit ? { overcommit: true } : {}) });
  if (!result) throw new Error(`the process that owns ${cluster.id} is gone; it cannot be scaled`);
  printJson(result);
  return 0;
}

export async function adapt(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    minimum: { type: 'string' },
    maximum: { type: 'string' },
    overcommit: { type: 'boolean' }
  });
  if (positionals.length !== 1 || values.maximum === undefined) {
    throw new UsageError('adapt takes a cluster id or name, --minimum A and --maximum B');
  }
  const cluster = findClusterHere(store(), positionals[0], 'adapt');
  const range = { minimum: numberFlag(values, 'minimum') ?? 0, maximum: numberFlag(values, 'maximum') };
  const result = await patchOwner(cluster, { adaptive: range, ...(values.overcommit ? { overcommit: true } : {}) });
  if (!result) throw new Error(`the process that owns ${cluster.id} is gone; it cannot adapt`);
  printJson(result);
  return 0;
}

/** The directories and this node as the engine sees them: jupyterlab_dask_hpc asks here rather than repeat the rules. */
export function paths(args: string[]): number {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const state = store();
  const description = { state_dir: state.dir, runtime_dir: state.runtimeDir, ...thisHost() };
  if (values.json) printJson(description);
  else for (const [key, value] of Object.entries(description)) process.stdout.write(`${key.padEnd(12)}${value}\n`);
  return 0;
}
