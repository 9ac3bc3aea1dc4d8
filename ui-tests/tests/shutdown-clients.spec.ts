import { newNotebookWithIdleKernel, openLab } from './own-jupyter';
import { expect, test, type Page } from '@playwright/test';

// A notebook connected with the inserted client code, and its cluster shut down from the card:
// the dialog says what the notebook loses, and the client closes without an error, instead of
// trying for 30 s to reach a scheduler that is gone and then printing a red error.
test.describe.configure({ mode: 'serial' });

let page: Page;
const NAME = 'quiet-close';

async function command(id: string, args: Record<string, unknown> = {}) {
  await page.evaluate(async ([id, args]) => void (await (window as any).jupyterapp.commands.execute(id, args)), [id, args] as const);
}

const sidebar = () => page.locator('#dask-hpc-sidebar');
const card = () => sidebar().locator('[data-testid="dask-hpc-card"]').filter({ hasText: NAME });
const outputs = () => page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output');

/** Runs `code` in a new cell below the active one. */
async function run(code: string) {
  await command('notebook:insert-cell-below');
  await command('notebook:replace-selection', { text: code });
  await command('notebook:run-cell');
}

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openLab(page, '/lab');
});

test.afterAll(async () => {
  const clusters = await (await page.request.get('/dask-hpc/api/clusters')).json();
  for (const cluster of clusters) await page.request.delete(`/dask-hpc/api/clusters/${cluster.id}`);
  await page.evaluate(async () => {
    const sessions = (window as any).jupyterapp.serviceManager.sessions;
    for (const session of [...sessions.running()]) await sessions.shutdown(session.id);
  });
  // The specs after this one share the server and its workspace: leave no notebook open or on disk.
  // Closed unchanged: a changed (or untitled) notebook asks before it closes, and the question would stay open.
  await page.evaluate(() => {
    for (const widget of [...(window as any).jupyterapp.shell.widgets('main')]) {
      if (widget.context) widget.context.model.dirty = false;
      widget.close();
    }
  });
  await expect
    .poll(async () => JSON.stringify(await (await page.request.get('/lab/api/workspaces/default')).json()), { timeout: 30000 })
    .not.toContain('notebook:');
  const listing = await (await page.request.get('/api/contents/')).json();
  for (const item of listing.content) if (item.type === 'notebook') await page.request.delete(`/api/contents/${item.path}`);
  await page.close();
});

test('shutting a cluster down closes the clients of its notebooks quietly, and the dialog says so', async () => {
  await command('dask-hpc:launch');
  await sidebar().locator('input[name="workload"][value="cpu"]').check();
  await sidebar().locator('input[name="max_workers"]').fill('1');
  await sidebar().locator('input[name="name"]').fill(NAME);
  await sidebar().locator('button.jp-DaskHpc-launch').click();
  await expect(card().locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });

  await newNotebookWithIdleKernel(page);
  await card().getByRole('button', { name: 'Insert client code' }).click();
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell').nth(1)).toContainText('from jupyterlab_dask_hpc import connect');
  await command('notebook:run-all-cells');
  await run('print("client is", client.status)');
  await expect(outputs().last()).toContainText('client is running', { timeout: 120000 });

  await card().getByRole('button', { name: 'Shut down' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Kernels connected to this cluster lose their client');
  await dialog.getByRole('button', { name: 'Shut down' }).click();
  await expect(card()).toHaveCount(0, { timeout: 60000 });
  const stoppedAt = Date.now();

  // The client knows at once that its cluster is gone: it does not spend 30 s reconnecting.
  // Soft: on failure the rest still runs, to show what the notebook then prints.
  await expect
    .configure({ soft: true })
    .poll(
      async () => {
        await run('print("client is", client.status)');
        await expect(outputs().last()).toContainText('client is ');
        return outputs().last().textContent();
      },
      { timeout: 20000, intervals: [1000] }
    )
    .toContain('client is closed');

  // distributed gives up reconnecting after 30 s (its connect timeout), and that error would
  // show in red in the notebook: wait past it, and find no error anywhere in the notebook.
  await page.waitForTimeout(Math.max(0, stoppedAt + 35000 - Date.now()));
  await run('print("after the wait")');
  await expect(outputs().last()).toContainText('after the wait');
  const everything = (await outputs().allTextContents()).join('\n');
  expect(everything).not.toContain('Failed to reconnect');
  expect(everything).not.toMatch(/Error|Traceback/);
  await expect(
    page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
  ).toHaveCount(0);
});
