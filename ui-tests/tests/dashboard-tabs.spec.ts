import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';

// A dashboard tab follows its cluster, never a port: once the cluster is gone its port may
// belong to someone else, whose page must never load on Jupyter's origin.
test.describe.configure({ mode: 'serial' });

let page: Page;
const servers: Server[] = [];
const MARKER = `foreign-dashboard-${process.pid}-${Date.now()}.txt`;

/**
 * Another user's server on loopback: it records every request, and its page, once loaded
 * anywhere on Jupyter's origin, would write MARKER through the contents API and flag the top window.
 */
async function foreignServer(port = 0): Promise<{ port: number; requests: string[] }> {
  const requests: string[] = [];
  const page = `<!doctype html><title>not a dashboard</title><script>
    try { window.top.__foreignDashboard = true; } catch (e) {}
    fetch('/api/contents/${MARKER}', { method: 'PUT', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'a foreign page ran here' }) });
  </script>Workers`;
  const server = createServer((request: IncomingMessage, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(200, { 'Content-Type': 'text/html' }).end(page);
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { port: (server.address() as AddressInfo).port, requests };
}

async function command(id: string, args: Record<string, unknown> = {}): Promise<string | null> {
  return page.evaluate(
    async ([id, args]) => {
      try {
        await (window as any).jupyterapp.commands.execute(id, args);
        return null;
      } catch (error) {
        return String((error as Error).message);
      }
    },
    [id, args] as const
  );
}

const sidebar = () => page.locator('#dask-hpc-sidebar');
const card = () => sidebar().locator('[data-testid="dask-hpc-card"]').filter({ hasText: 'tabs-a' });
const dashboardTab = () => page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: /^Dask Status · / });
const dashboard = () => page.locator('.jp-DaskHpc-dashboard');

async function openLab() {
  await page.goto('/lab');
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
}

async function clusterState(): Promise<{ id: string; dashboard_address: string } | undefined> {
  const clusters = await (await page.request.get('/dask-hpc/api/clusters')).json();
  return clusters.find((c: { name: string }) => c.name === 'tabs-a');
}

/** The workspace's dashboard tab entries, as the layout restorer saved them. */
async function savedTabs(): Promise<Record<string, unknown>> {
  const workspace = await (await page.request.get('/lab/api/workspaces/default')).json();
  return Object.fromEntries(Object.entries(workspace.data ?? {}).filter(([key]) => key.startsWith('dask-hpc-dashboard:')));
}

let dashboardPort = 0;
let clusterId = '';

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openLab();
});

test.afterAll(async () => {
  if (await clusterState()) {
    const cluster = (await clusterState())!;
    await page.request.delete(`/dask-hpc/api/clusters/${cluster.id}`);
  }
  await page.request.delete(`/api/contents/${MARKER}`);
  await page.close();
  await Promise.all(servers.map(server => new Promise(resolve => server.close(resolve))));
});

test('open-dashboard refuses a URL and opens nothing', async () => {
  const foreign = await foreignServer();
  const error = await command('dask-hpc:open-dashboard', { url: `http://127.0.0.1:${foreign.port}/status`, label: 'Dask Status · forged' });
  expect(error).toContain('not a URL');
  await page.waitForTimeout(2000); // time for a frame to ask, if one had been made
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask' })).toHaveCount(0);
  await expect(page.locator('iframe')).toHaveCount(0);
  expect(foreign.requests).toEqual([]);
});

test('a dashboard tab of a running cluster comes back after a reload, under the current base URL, and the workspace keeps no URL', async () => {
  await command('dask-hpc:launch');
  await sidebar().locator('input[name="workload"][value="cpu"]').check();
  await sidebar().locator('input[name="max_workers"]').fill('1');
  await sidebar().locator('input[name="name"]').fill('tabs-a');
  await sidebar().locator('button.jp-DaskHpc-launch').click();
  await expect(card().locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });
  const cluster = (await clusterState())!;
  clusterId = cluster.id;
  dashboardPort = Number(new URL(cluster.dashboard_address).port);

  await card().getByRole('button', { name: 'Dashboard' }).click();
  await expect(dashboardTab()).toHaveText('Dask Status · tabs-a');
  const frame = page.frameLocator('.jp-DaskHpc-dashboard iframe').first();
  await expect(frame.locator('body')).toContainText('Workers', { timeout: 60000 });
  // Bokeh draws its plots only once its WebSocket, through the cluster's route, has brought the document.
  await expect(frame.locator('canvas').first()).toBeVisible({ timeout: 60000 });

  await expect
    .poll(savedTabs, { timeout: 30000 })
    .toEqual({ [`dask-hpc-dashboard:${clusterId}:status`]: { data: { id: clusterId, plot: 'status' } } });
  await page.reload();
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.evaluate(() => (window as any).jupyterapp.restored);
  await expect(dashboardTab()).toHaveText('Dask Status · tabs-a');
  const baseUrl = await page.evaluate(() => (window as any).jupyterapp.serviceManager.serverSettings.baseUrl as string);
  // The frame's address as the browser resolves it: the cluster's route (its id, never its port), under this page's base URL.
  await expect
    .poll(() =>
      dashboard()
        .locator('iframe')
        .evaluate(frame => (frame as HTMLIFrameElement).src)
    )
    .toBe(new URL(`dask-hpc/dashboard/${clusterId}/status`, new URL(baseUrl, page.url())).href);
  await expect(page.frameLocator('.jp-DaskHpc-dashboard iframe').first().locator('body')).toContainText('Workers', { timeout: 60000 });
});

test('when the cluster stops, its tab says so and keeps no frame; after a reload, a page now on its port is never requested', async () => {
  await card().getByRole('button', { name: 'Shut down' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Shut down' }).click();
  await expect(card()).toHaveCount(0, { timeout: 60000 });
  // Soft: on failure the rest still runs, to show what a stale tab then loads.
  await expect.soft(dashboard()).toContainText('This cluster has stopped');
  await expect.soft(dashboard().locator('iframe')).toHaveCount(0);

  // Another user takes the freed port at once.
  const foreign = await foreignServer(dashboardPort);
  await page.waitForTimeout(3000);
  expect.soft(foreign.requests, 'requests to the freed port before the reload').toEqual([]);

  // A workspace saved by an earlier version holds tabs by URL: such a tab must not come back either.
  await page.goto('about:blank');
  const workspace = await (await page.request.get('/lab/api/workspaces/default')).json();
  workspace.data[`dask-hpc-dashboard:/proxy/${dashboardPort}/individual-cpu`] = {
    data: { url: `/proxy/${dashboardPort}/individual-cpu`, label: 'Dask CPU · tabs-a' }
  };
  expect((await page.request.put('/lab/api/workspaces/default', { data: workspace })).ok()).toBe(true);

  await openLab();
  await expect(dashboardTab()).toBeVisible();
  await page.waitForTimeout(5000); // time for a frame, had one been made, to load and run its script
  expect(foreign.requests, 'requests to the freed port after the reload').toEqual([]);
  expect(await page.evaluate(() => (window as any).__foreignDashboard ?? null)).toBeNull();
  expect((await page.request.get(`/api/contents/${MARKER}`)).status()).toBe(404);
  await expect(dashboard()).toContainText('This cluster has stopped');
  await expect(dashboard().locator('iframe')).toHaveCount(0);
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask CPU' })).toHaveCount(0);
});
