import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startOwnJupyter } from './own-jupyter';

// Pages of other sites try to act with the login cookie of a user logged into JupyterLab.
// The Galata server of the other specs has no login and no XSRF check, so this spec runs a
// Jupyter of its own as users run it: a token, the login form, Jupyter's XSRF check on.

const TOKEN = 'cross-site-token';
let jupyter: ChildProcess;
let jupyterLog: string; // its log: a file, so that a full pipe can never stall it
let jupyterUrl: string;
let attacker: Server;
let attackerPort: number;
let scratch: string;
let browsing: BrowserContext; // the user's browser: one cookie jar for every site's page
let lab: Page;

async function startJupyter(): Promise<void> {
  scratch = mkdtempSync(join(tmpdir(), 'dask-hpc-cross-site-'));
  // The form below asks for PBS worker jobs, which needs qsub on PATH; it asks for 0 jobs,
  // so this qsub is never run.
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'qsub'), '#!/bin/sh\necho "this test submits no jobs" >&2\nexit 1\n');
  chmodSync(join(bin, 'qsub'), 0o755);
  jupyterLog = join(scratch, 'jupyter.log');
  const port = await freePort();
  jupyterUrl = `http://127.0.0.1:${port}`;
  jupyter = await startOwnJupyter({ port, token: TOKEN, scratch, logPath: jupyterLog, env: { PATH: `${bin}:${process.env.PATH}` } });
}

/** The other site's pages: a no-cors fetch and a text/plain form, both aimed at the cluster API. */
function attackerPages(target: string): Server {
  const api = `${target}/dask-hpc/api/clusters`;
  // A text/plain form sends name=value: the "=" is the one inside the prologue line, so the
  // body is this JSON.
  const json = JSON.stringify({
    workload: 'cpu',
    name: 'forged-form',
    worker_jobs: { system: 'pbs', cores: 1, memory_gb: 8, jobs: 0, prologue: ['export A=B'] }
  });
  const [name, value] = [json.slice(0, json.indexOf('=')), json.slice(json.indexOf('=') + 1)];
  const pages: Record<string, string> = {
    '/fetch.html': `<script>fetch(${JSON.stringify(api)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"workload": "cpu", "name": "forged-fetch"}' }).then(() => { document.title = 'sent'; }, () => { document.title = 'sent'; });</script>`,
    '/form.html': `<form method="POST" enctype="text/plain" action="${api}"><input type="hidden" name='${name}' value='${value}'></form><script>document.forms[0].submit();</script>`
  };
  return createServer((request, response) => {
    const page = pages[request.url ?? ''];
    response.writeHead(page ? 200 : 404, { 'Content-Type': 'text/html' });
    response.end(page ?? '');
  });
}

/** GET through the logged-in Lab page: what the user's own session sees. */
async function clusterNames(): Promise<string[]> {
  return lab.evaluate(
    async url => (await (await fetch(url)).json()).map((c: { name: string }) => c.name),
    `${jupyterUrl}/dask-hpc/api/clusters`
  );
}

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  await startJupyter();
  attacker = attackerPages(jupyterUrl);
  await new Promise<void>(resolve => attacker.listen(0, '127.0.0.1', resolve));
  attackerPort = (attacker.address() as AddressInfo).port;
  // The user logs in with the form: the browser now holds Jupyter's login cookie.
  browsing = await browser.newContext();
  lab = await browsing.newPage();
  await lab.goto(`${jupyterUrl}/login`);
  await lab.getByRole('textbox', { name: 'Password or token:' }).fill(TOKEN);
  await lab.getByRole('textbox', { name: 'Password or token:' }).press('Enter');
  await lab.waitForURL(/\/(lab|tree)/);
  expect((await browsing.cookies(jupyterUrl)).some(cookie => cookie.name.startsWith('username-'))).toBe(true);
});

test.afterAll(async () => {
  await browsing?.close();
  await new Promise(resolve => attacker?.close(resolve));
  if (jupyter && jupyter.exitCode === null) {
    const exited = new Promise(resolve => jupyter.once('exit', resolve));
    jupyter.kill('SIGTERM'); // the extension stops its sidecar and clusters
    const killer = setTimeout(() => jupyter.kill('SIGKILL'), 60000);
    await exited;
    clearTimeout(killer);
  }
  rmSync(scratch, { recursive: true, force: true });
});

// Jupyter's answer to a cross-origin POST without the XSRF token, as for its own /api/sessions.
const REFUSED = 404;

/** Opens the other site's page and checks that Jupyter refused, with the user's cookie, the POST it
 * makes; returns the POST's Content-Type. */
async function forge(host: string, file: string) {
  const other = await browsing.newPage();
  const logBefore = readFileSync(jupyterLog, 'utf8').length;
  const answered = other.waitForResponse(response => response.url().endsWith('/dask-hpc/api/clusters'));
  await other.goto(`http://${host}:${attackerPort}/${file}`);
  const response = await answered;
  const request = response.request();
  expect(request.method()).toBe('POST');
  expect(response.status()).toBe(REFUSED);
  // The browser did send the login cookie (Jupyter logs the user it identified): only the
  // XSRF check stands in the way.
  await expect
    .poll(() => readFileSync(jupyterLog, 'utf8').slice(logBefore))
    .toMatch(/ POST \/dask-hpc\/api\/clusters \([0-9a-f]{32}@127\.0\.0\.1\)/);
  const contentType = (await request.allHeaders())['content-type'];
  await other.close();
  return contentType;
}

test('a no-cors fetch from another port of 127.0.0.1 cannot create a cluster with the login cookie', async () => {
  expect(await forge('127.0.0.1', 'fetch.html')).toBe('text/plain;charset=UTF-8');
  expect(await clusterNames()).toEqual([]);
});

for (const host of ['localhost', '127.0.0.1']) {
  test(`a text/plain form from ${host} cannot create a worker-jobs cluster with the login cookie`, async () => {
    expect(await forge(host, 'form.html')).toBe('text/plain');
    expect(await clusterNames()).toEqual([]);
  });
}

test('the sidebar, logged in with the cookie, plans, launches and stops a cluster', async () => {
  await lab.goto(`${jupyterUrl}/lab`);
  await lab.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await lab.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await lab.evaluate(() => (window as any).jupyterapp.restored);
  await lab.evaluate(async () => void (await (window as any).jupyterapp.commands.execute('dask-hpc:launch')));
  const sidebar = lab.locator('#dask-hpc-sidebar');
  await expect(sidebar.getByText('Cores')).toBeVisible();
  await sidebar.locator('input[name="workload"][value="cpu"]').check();
  await sidebar.locator('input[name="max_workers"]').fill('1');
  await expect(sidebar.locator('[data-testid="dask-hpc-plan"]')).toContainText('1 worker × 1 thread'); // POST plan
  await sidebar.locator('input[name="name"]').fill('by-the-user');
  await sidebar.locator('button.jp-DaskHpc-launch').click(); // POST clusters
  const card = sidebar.locator('[data-testid="dask-hpc-card"]');
  await expect(card.locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });
  expect(await clusterNames()).toEqual(['by-the-user']);
  await card.getByRole('button', { name: 'Shut down' }).click(); // DELETE
  await lab.locator('.jp-Dialog').getByRole('button', { name: 'Shut down' }).click();
  await expect(card).toHaveCount(0, { timeout: 60000 });
  expect(await clusterNames()).toEqual([]);
});
