import type { ClusterState } from '../../common/protocol';
import { dashboardTab } from '../dashboard-url';
import { clientSnippet } from '../snippet';
import { initialWorkerJobFields, jobCounts, workerJobsBody } from '../worker-jobs';

const cluster = {
  id: 'abcd1234',
  name: 'era5',
  dashboard_url: '/user/me/proxy/41234/status',
  local_directory: '/jobfs/1.gadi-pbs/dask-hpc/abcd1234'
} as ClusterState;

test('the client snippet connects to the cluster and names its local directory', () => {
  const code = clientSnippet(cluster);
  expect(code).toContain('client = connect("abcd1234")');
  expect(code).toContain('dask_local_dir = "/jobfs/1.gadi-pbs/dask-hpc/abcd1234"');
  expect(clientSnippet(cluster, 'Client("{id}") # {name}')).toBe('Client("abcd1234") # era5');
});

test('dashboard plots are pages beside the status page, through the proxy', () => {
  expect(dashboardTab(cluster, 'status')).toEqual({ url: '/user/me/proxy/41234/status', label: 'Dask Status · era5' });
  expect(dashboardTab(cluster, 'individual-task-stream').url).toBe('/user/me/proxy/41234/individual-task-stream');
});

describe('workers on other nodes', () => {
  test('the fields become the worker_jobs request; empty ones are left to the engine', () => {
    const fields = { ...initialWorkerJobFields('pbs'), cores: '48', memory_gb: '190', account: ' ab12 ', storage: 'gdata/ab12', prologue: 'module load python3/3.11.7\n\n  source /g/data/ab12/venv/bin/activate  ' };
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

  test('job counts follow the job states of the cluster workers', () => {
    const workers = [{ job_state: 'queued' }, { job_state: 'running' }, { job_state: 'running' }, { job_state: 'finished' }, {}] as ClusterState['workers'];
    expect(jobCounts(workers)).toEqual({ queued: 1, running: 2, finished: 1 });
  });
});
