// What the specs that run a Jupyter server of their own share: a free port, the server, and a
// lab page that is ready for commands.
import type { Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface OwnJupyter {
  port: number;
  token: string;
  /** Settings, workspaces, cluster state and the notebooks' root live here. */
  scratch: string;
  logPath: string;
  baseUrl?: string;
  args?: string[];
  env?: Record<string, string>;
}

/** `jupyter lab` from the repository's .venv with a token, answering once the dask-hpc API does. */
export async function startOwnJupyter(options: OwnJupyter): Promise<ChildProcess> {
  const base = options.baseUrl ?? '/';
  const logFile = openSync(options.logPath, 'w');
  const jupyter = spawn(
    '../.venv/bin/jupyter',
    [
      'lab',
      '--no-browser',
      `--port=${options.port}`,
      '--ServerApp.port_retries=0',
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.base_url=${base}`,
      `--IdentityProvider.token=${options.token}`,
      '--LabApp.expose_app_in_browser=True',
      `--ServerApp.root_dir=${options.scratch}`,
      '--allow-root',
      ...(options.args ?? [])
    ],
    {
      stdio: ['ignore', 'ignore', logFile],
      env: {
        ...process.env,
        DASK_HPC_STATE_DIR: join(options.scratch, 'state'),
        JUPYTERLAB_SETTINGS_DIR: join(options.scratch, 'settings'),
        JUPYTERLAB_WORKSPACES_DIR: join(options.scratch, 'workspaces'),
        ...options.env
      }
    }
  );
  closeSync(logFile);
  const url = `http://127.0.0.1:${options.port}${base}dask-hpc/api/resources`;
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      if ((await fetch(url, { headers: { Authorization: `token ${options.token}` } })).ok) return jupyter;
    } catch {
      // not listening yet
    }
    if (jupyter.exitCode !== null) throw new Error(`the Jupyter server exited (${jupyter.exitCode}); see ${options.logPath}`);
    if (Date.now() > deadline) throw new Error(`the Jupyter server under ${base} did not answer within 120 s`);
    await new Promise(resolve => setTimeout(resolve, 300));
  }
}

/** Loads the lab at `url` and waits until it has restored its layout and has our commands. */
export async function openLab(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
  // An empty main area gets a Launcher after the restore, and it takes the keyboard focus: a palette
  // or form a test opened before then would lose it (the palette closes when it loses focus).
  await page.waitForFunction(() => {
    const shell = (window as any).jupyterapp.shell;
    return shell.currentWidget !== null && shell.currentWidget.node.contains(document.activeElement);
  });
}

/** Opens a new Python notebook and waits until its kernel is idle. */
export async function newNotebookWithIdleKernel(page: Page): Promise<void> {
  await page.evaluate(
    async () => void (await (window as any).jupyterapp.commands.execute('notebook:create-new', { kernelName: 'python3' }))
  );
  await page.waitForFunction(
    () => (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle',
    undefined,
    { timeout: 120000 }
  );
}
