import type { Resources } from '../../../common/protocol';
import { dashboardLinks } from '../../server/dashboard-links';

const resources = { hostname: 'gadi-cpu-clx-0042', job_id: '12345.gadi-pbs' } as Resources;

test("the dashboard link names the cluster under Jupyter's base URL, never the port another user could take next", () => {
  const links = dashboardLinks('http://127.0.0.1:41234', {
    baseUrl: '/node/gadi-cpu-clx-0042/999',
    clusterId: 'abcd1234',
    resources,
    env: {}
  });
  expect(links.dashboard_url).toBe('/node/gadi-cpu-clx-0042/999/dask-hpc/dashboard/abcd1234/status');
  expect(links.dashboard_url).not.toContain('41234');
  expect(links.dashboard_url).not.toContain('proxy/');
});

test('without a Jupyter server (the CLI) the link is the loopback dashboard itself; the tunnel forwards that port', () => {
  const links = dashboardLinks('http://127.0.0.1:41234', { baseUrl: null, clusterId: 'abcd1234', resources, env: {} });
  expect(links.dashboard_url).toBe('http://127.0.0.1:41234/status');
  expect(links.tunnel_command).toBe('ssh -N -L 8787:127.0.0.1:41234 -J gadi.nci.org.au gadi-cpu-clx-0042');
});
