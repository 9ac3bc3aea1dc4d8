import { expect, test, type Page } from '@playwright/test';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, openLab as openLabAt, startOwnJupyter } from './own-jupyter';

// On ARE, JupyterLab runs behind a prefix, /node/<host>/<port>/, that changes with every
// session, while the workspace (and a cluster left running) outlive the server. This spec runs
// a Jupyter of its own, stops it and starts it again under another prefix, as ARE does.
test.describe.configure({ mode: 'serial' });

const TOKEN = 'are-restart-token';
const NAME = 'are-tab';
let scratch: string;
let port: number;
let jupyter: ChildProcess | null = null;
let prefix = ''; // the base URL of the server running now
let page: Page;
let clusterId = '';
let dashboardPort = 0;

const origin = () => `http://127.0.0.1:${port}`;

/** A REST call to the running server, with the token (as a script would). */
async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${origin()}${prefix}${path}`, { ...init, headers: { Authorization: `token ${TOKEN}`, ...init.headers } });
}

/** Starts Jupyter on the same port under `base`; the settings, workspaces and cluster state stay in `scratch`. */
async function startJupyter(base: string, args: string[] = []): Promise<void> {
  prefix = base;
  const logPath = join(scratch, `jupyter-${base.split('/')[2]}.log`);
  jupyter = await startOwnJupyter({ port, token: TOKEN, scratch, logPath, baseUrl: base, args });
}

/** SIGTERM, as ARE ends a session; the server's own settings decide whether its clusters stop. */
async function stopJupyter(): Promise<void> {
  const running = jupyter;
  jupyter = null;
  if (!running || running.exitCode !== null) return;
  const exited = new Promise(resolve => running.once('exit', resolve));
  running.kill('SIGTERM');
  const killer = setTimeout(() => running.kill('SIGKILL'), 60000);
  await exited;
  clearTimeout(killer);
}

async function openLab(): Promise<void> {
  await openLabAt(page, `${origin()}${prefix}lab?token=${TOKEN}`);
}

async function clusters(): Promise<{ id: string; name: string; status: string; dashboard_address: string }[]> {
  return (await api('dask-hpc/api/clusters')).json();
}

async function savedTabs(): Promise<Record<string, unknown>> {
  const workspace = await (await api('lab/api/workspaces/default')).json();
  return Object.fromEntries(Object.entries(workspace.data ?? {}).filter(([key]) => key.startsWith('dask-hpc-dashboard:')));
}

const dashboard = () => page.locator('.jp-DaskHpc-dashboard');
// Named after the cluster while the server knows it, after its id once it has gone.
const dashboardTab = () => page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: /^Dask Status · / });
const frameSrc = () =>
  dashboard()
    .locator('iframe')
    .evaluate(frame => (frame as HTMLIFrameElement).src);

test.beforeAll(async ({ browser }) => {
  scratch = mkdtempSync(join(tmpdir(), 'dask-hpc-are-restart-'));
  port = await freePort();
  page = await browser.newPage();
});

test.afterAll(async () => {
  await page?.close();
  if (jupyter) {
    // Whatever a failed test left: its clusters go with this server.
    for (const cluster of await clusters().catch(() => [])) await api(`dask-hpc/api/clusters/${cluster.id}`, { method: 'DELETE' });
    await stopJupyter();
  }
  rmSync(scratch, { recursive: true, force: true });
});

test('a dashboard tab restored after a restart under another prefix shows the live cluster under the new prefix', async () => {
  // Clusters outlive this server, for the next one on the same port to adopt.
  await startJupyter(`/node/gadi-cpu-clx-0123/${port}/`, [
    '--DaskHpcApp.stop_clusters_on_shutdown=False',
    '--DaskHpcApp.adoption_grace=25'
  ]);
  await openLab();
  const launched = await api('dask-hpc/api/clusters?wait=ready', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ workload: 'cpu', max_workers: 1, name: NAME })
  });
  expect(launched.status, await launched.clone().text()).toBe(201);
  const cluster = await launched.json();
  clusterId = cluster.id;
  dashboardPort = Number(new URL(cluster.dashboard_address).port);
  await page.evaluate(async id => void (await (window as any).jupyterapp.commands.execute('dask-hpc:open-dashboard', { id })), clusterId);
  await expect(dashboardTab()).toBeVisible();
  await expect(page.frameLocator('.jp-DaskHpc-dashboard iframe').first().locator('body')).toContainText('Workers', { timeout: 60000 });
  await expect.poll(savedTabs, { timeout: 30000 }).toEqual({
    [`dask-hpc-dashboard:${clusterId}:status`]: { data: { id: clusterId, plot: 'status' } }
  });

  await page.goto('about:blank');
  await stopJupyter();
  // The next session: another node name in the prefix; its clusters stop when it stops.
  await startJupyter(`/node/gadi-cpu-clx-0456/${port}/`);
  const adopted = await clusters();
  expect(
    adopted.map(c => [c.id, c.status]),
    JSON.stringify(adopted)
  ).toEqual([[clusterId, 'running']]);
  await openLab();
  await expect(dashboardTab()).toHaveText(`Dask Status · ${NAME}`);
  await expect.poll(frameSrc).toBe(`${origin()}${prefix}dask-hpc/dashboard/${clusterId}/status`);
  await expect(page.frameLocator('.jp-DaskHpc-dashboard iframe').first().locator('body')).toContainText('Workers', { timeout: 60000 });
  await expect(dashboard()).not.toContainText('This cluster has stopped');
});

test('a dashboard tab restored after a restart, once its cluster has gone, says the cluster stopped and loads nothing', async () => {
  expect(clusterId, 'the first test launched the cluster').not.toBe('');
  await page.goto('about:blank');
  await stopJupyter(); // stops the cluster with it
  await startJupyter(`/node/gadi-cpu-clx-0789/${port}/`);
  expect(await clusters()).toEqual([]);
  const asked: string[] = [];
  page.on('request', request => {
    if (request.url().includes(`/proxy/${dashboardPort}/`) || request.url().includes('/dask-hpc/dashboard/')) asked.push(request.url());
  });
  await openLab();
  await expect(dashboardTab()).toHaveText(`Dask Status · ${clusterId}`);
  await expect(dashboard()).toContainText('This cluster has stopped');
  await page.waitForTimeout(3000); // time for a frame, had one been made, to ask
  await expect(dashboard().locator('iframe')).toHaveCount(0);
  expect(asked).toEqual([]);
});
