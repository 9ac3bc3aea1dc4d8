import type { ClusterState } from '../../common/protocol';
import { dashboardFrameUrl, dashboardLabel, dashboardTabFromArgs } from '../dashboard-url';
import { clientSnippet } from '../snippet';
import { jobCounts } from '../../common/worker-count';
import { initialWorkerJobFields, prefillFromJob, workerJobsBody } from '../worker-jobs';

const cluster = {
  id: 'abcd1234',
  name: 'era5',
  status: 'running',
  dashboard_url: '/user/me/dask-hpc/dashboard/abcd1234/status',
  dashboard_address: 'http://127.0.0.1:41234',
  local_directory: '/jobfs/1.gadi-pbs/dask-hpc/abcd1234'
} as ClusterState;

test('the client snippet connects to the cluster and names its local directory', () => {
  const code = clientSnippet(cluster);
  expect(code).toContain('client = connect("abcd1234")  # cluster "era5"');
  expect(code).toContain('dask_local_dir = "/jobfs/1.gadi-pbs/dask-hpc/abcd1234"');
  // Templates that quote the placeholders themselves (the form of earlier versions) still give one literal.
  expect(clientSnippet(cluster, 'Client("{id}") # {name}')).toBe('Client("abcd1234") # "era5"');
  expect(clientSnippet(cluster, "Client('{id}')")).toBe('Client("abcd1234")');
});

describe('dashboard tabs are bound to a cluster and a plot, never a URL', () => {
  test('the frame loads the plot through the route of its cluster (never a port) under the base URL of this page', () => {
    // On ARE the prefix changes every session: a cluster started in another one still opens under this one.
    expect(dashboardFrameUrl(cluster, 'status', '/node/gadi-cpu-2/999/')).toBe('/node/gadi-cpu-2/999/dask-hpc/dashboard/abcd1234/status');
    expect(dashboardFrameUrl(cluster, 'individual-task-stream', '/user/me')).toBe(
      '/user/me/dask-hpc/dashboard/abcd1234/individual-task-stream'
    );
    // A cluster started by the CLI has a direct dashboard_url: the frame still goes through the route.
    expect(dashboardFrameUrl({ ...cluster, dashboard_url: 'http://127.0.0.1:41234/status' }, 'status', '/')).toBe(
      '/dask-hpc/dashboard/abcd1234/status'
    );
    // The port is nowhere in the URL: a freed port taken by another user is never asked for.
    expect(dashboardFrameUrl(cluster, 'status', '/')).not.toContain('41234');
  });

  test('a cluster that has no dashboard of its own now gives no URL at all', () => {
    for (const status of ['stopping', 'stopped', 'failed'] as const) {
      expect(dashboardFrameUrl({ ...cluster, status }, 'status', '/')).toBeNull();
    }
    expect(dashboardFrameUrl({ ...cluster, status: 'starting', dashboard_address: null }, 'status', '/')).toBeNull();
  });

  test('the command takes a cluster id and a known plot; a URL, an odd id or an unknown plot is refused with the reason', () => {
    const latest = () => 'latest01';
    expect(dashboardTabFromArgs({ id: 'abcd1234', plot: 'individual-cpu' }, latest)).toEqual({
      clusterId: 'abcd1234',
      plot: 'individual-cpu'
    });
    expect(dashboardTabFromArgs({}, latest)).toEqual({ clusterId: 'latest01', plot: 'status' });
    expect(() => dashboardTabFromArgs({ url: '/proxy/41234/status' }, latest)).toThrow('not a URL');
    expect(() => dashboardTabFromArgs({ id: 'abcd1234', url: 'http://127.0.0.1:41234/status' }, latest)).toThrow('not a URL');
    expect(() => dashboardTabFromArgs({ id: 42 }, latest)).toThrow('"id" is a cluster id, not 42');
    expect(() => dashboardTabFromArgs({ id: 'abcd1234', plot: '../../files/x' }, latest)).toThrow('"plot" is one of status,');
  });

  test('a tab is labelled by its plot and its cluster (the id while the name is not known)', () => {
    expect(dashboardLabel({ clusterId: 'abcd1234', plot: 'individual-task-stream' }, 'era5')).toBe('Dask Task stream · era5');
    expect(dashboardLabel({ clusterId: 'abcd1234', plot: 'status' }, null)).toBe('Dask Status · abcd1234');
  });
});

describe('workers on other nodes', () => {
  test('the fields become the worker_jobs request; empty ones are left to the engine', () => {
    const fields = {
      ...initialWorkerJobFields('pbs'),
      cores: '48',
      memory_gb: '190',
      account: ' ab12 ',
      storage: 'gdata/ab12',
      prologue: 'module load python3/3.11.7\n\n  source /g/data/ab12/venv/bin/activate  '
    };
    expect(workerJobsBody(fields)).toEqual({
      system: 'pbs',
      dialect: 'gadi',
      cores: 48,
      memory_gb: 190,
      jobs: 1,
      walltime: '01:00:00',
      account: 'ab12',
      storage: 'gdata/ab12',
      prologue: ['module load python3/3.11.7', 'source /g/data/ab12/venv/bin/activate']
    });
  });

  test('Slurm has no PBS dialect, and a value that is not a number reaches the engine as typed, to be named in its message', () => {
    const body = workerJobsBody({ ...initialWorkerJobFields('slurm'), cores: 'four', memory_gb: '8' });
    expect(body.system).toBe('slurm');
    expect(body).not.toHaveProperty('dialect');
    expect(body.cores).toBe('four');
  });

  test("the form starts with this job's project, queue and storage; what the user typed stays", () => {
    const job = {
      id: '12.gadi-pbs',
      project: 'a00',
      queue: 'normal',
      storage: 'scratch/a00',
      walltime_seconds: 3600,
      ends_at: null,
      jobfs_request_bytes: null
    };
    const fields = prefillFromJob({ ...initialWorkerJobFields('pbs'), queue: 'express' }, job);
    expect(fields).toMatchObject({ account: 'a00', queue: 'express', storage: 'scratch/a00' });
    expect(prefillFromJob(initialWorkerJobFields('pbs'), null)).toEqual(initialWorkerJobFields('pbs'));
    // Storage is Gadi's: a prefilled one does not reach a PBS Pro or Slurm request (it would be refused).
    expect(workerJobsBody({ ...fields, dialect: 'pbspro' })).not.toHaveProperty('storage');
    expect(workerJobsBody({ ...fields, system: 'slurm' })).not.toHaveProperty('storage');
    expect(workerJobsBody(fields)).toMatchObject({ account: 'a00', storage: 'scratch/a00' });
  });

  test('in a job whose end is known the walltime is left to the engine (the time left); a typed one stays; outside, one hour', () => {
    const job = {
      id: '12.gadi-pbs',
      project: null,
      queue: null,
      storage: null,
      walltime_seconds: 3600,
      ends_at: '2026-12-03T15:00:00.000Z',
      jobfs_request_bytes: null
    };
    expect(initialWorkerJobFields('pbs').walltime).toBe('01:00:00');
    const fields = prefillFromJob(initialWorkerJobFields('pbs'), job);
    expect(fields.walltime).toBe('');
    expect(workerJobsBody(fields)).not.toHaveProperty('walltime');
    expect(prefillFromJob({ ...initialWorkerJobFields('pbs'), walltime: '02:00:00' }, job).walltime).toBe('02:00:00');
    expect(prefillFromJob(initialWorkerJobFields('pbs'), { ...job, ends_at: null }).walltime).toBe('01:00:00');
  });

  test('job counts follow the job states of the cluster workers', () => {
    const workers = [
      { job_state: 'queued' },
      { job_state: 'running' },
      { job_state: 'running' },
      { job_state: 'finished' },
      {}
    ] as ClusterState['workers'];
    expect(jobCounts(workers)).toEqual({ queued: 1, running: 2, finished: 1 });
  });
});
