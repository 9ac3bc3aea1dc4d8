import type { ClusterState } from '../../common/protocol';
import { dashboardTab } from '../dashboard-url';
import { clientSnippet } from '../snippet';

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
