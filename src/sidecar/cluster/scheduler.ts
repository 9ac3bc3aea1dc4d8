import { join } from 'node:path';
import type { ClusterState } from '../../common/protocol';
import type { StartedProcess } from '../process/owned-process';
import type { ClusterDependencies, ClusterSpec, SchedulerConnection } from './cluster-spec';

// Lines Dask prints, which is how readiness is seen as it happens, without polling.
const SCHEDULER_ADDRESS_LINE = /Scheduler at:\s+(\S+)/;
const DASHBOARD_LINE = /dashboard at:\s+(\S+)/;
// The scheduler's own lines: which worker, by name, arrived or left (jobs' workers, nanny restarts).
const SCHEDULER_REGISTER_LINE = /Register worker addr: (\S+) name: (\S+)/;
const SCHEDULER_REMOVE_LINE = /Remove worker addr: (\S+) name: (\S+)/;

/** The `dask scheduler` arguments: TLS on `host`, the dashboard on loopback, our preloads. */
export function schedulerArgs(spec: ClusterSpec, schedulerFile: string, host: string): string[] {
  return [
    '--host',
    host,
    '--port',
    '0',
    '--protocol',
    'tls',
    '--dashboard-address',
    '127.0.0.1:0',
    // The dashboard comes after the scheduler is up, from a preload (deferred_dashboard.py):
    // importing it first would hold the workers back.
    '--no-dashboard',
    '--scheduler-file',
    schedulerFile,
    '--preload',
    spec.lifelinePreload,
    '--preload',
    spec.dashboardPreload
  ];
}

/** Starts the scheduler process of a cluster; its log goes to the cluster's directory. */
export function startScheduler(
  spec: ClusterSpec,
  state: ClusterState,
  host: string,
  env: Record<string, string>,
  dependencies: ClusterDependencies
): StartedProcess {
  return dependencies.startProcess({
    python: spec.python,
    kind: 'scheduler',
    args: schedulerArgs(spec, state.scheduler_file, host),
    env,
    logFile: join(state.local_directory, 'scheduler.log')
  });
}

/**
 * Once the TLS files are there, lets the scheduler go on (lifeline.py waits for our word),
 * reads its addresses into the state and connects to its lifeline socket.
 */
export async function awaitScheduler(
  scheduler: StartedProcess,
  certificates: Promise<unknown>,
  spec: ClusterSpec,
  state: ClusterState,
  withTimeout: <T>(work: Promise<T>, what: string) => Promise<T>,
  dependencies: ClusterDependencies
): Promise<SchedulerConnection> {
  await certificates;
  scheduler.send('go');
  const dashboard = scheduler.waitFor(DASHBOARD_LINE);
  dashboard.catch(() => undefined); // the address wait below reports an early exit
  try {
    const [address, dashboardMatch] = await withTimeout(
      Promise.all([scheduler.waitFor(SCHEDULER_ADDRESS_LINE), dashboard]),
      'the scheduler'
    );
    state.scheduler_address = address[1];
    // Dask prints the link with the scheduler's host; the dashboard itself listens on loopback only.
    const httpAddress = `http://127.0.0.1:${new URL(dashboardMatch[1]).port}`;
    state.dashboard_address = httpAddress;
    Object.assign(state, spec.dashboardLinks(httpAddress));
    return await withTimeout(connect(scheduler, spec.lifelineSocket, dependencies), 'the scheduler');
  } catch (error) {
    throw new Error(`the scheduler did not start: ${(error as Error).message}\n${scheduler.tail()}`);
  }
}

/**
 * The lifeline socket is bound as the scheduler loads its preloads, just after it prints its
 * addresses: tried again until it is there (milliseconds), or the scheduler has exited.
 */
async function connect(scheduler: StartedProcess, socket: string, dependencies: ClusterDependencies): Promise<SchedulerConnection> {
  for (;;) {
    try {
      return await dependencies.connectScheduler(socket);
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || scheduler.hasExited) throw error;
    }
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

/** Calls `onWorker` as the scheduler says a worker, by name and address, arrived or left. */
export function followWorkers(
  scheduler: StartedProcess,
  onWorker: (change: 'added' | 'removed', address: string, name: string) => void
): void {
  scheduler.onLine(line => {
    const registered = SCHEDULER_REGISTER_LINE.exec(line);
    const removed = SCHEDULER_REMOVE_LINE.exec(line);
    const match = registered ?? removed;
    if (match) onWorker(registered ? 'added' : 'removed', match[1], match[2]);
  });
}
