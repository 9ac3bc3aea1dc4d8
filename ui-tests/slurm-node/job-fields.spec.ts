import { expect, test } from '@playwright/test';

// JupyterLab inside a (pretend) Slurm job. After a reload with the sidebar open, the form is
// built before the node's resources arrive: the "workers on other nodes" fields must still
// start on Slurm, and runner mode goes through srun.
test('on a Slurm node the job fields start on Slurm and runner mode uses srun', async ({ page }) => {
  await page.goto('/lab');
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('dask-hpc:launch'));
  const sidebar = page.locator('#dask-hpc-sidebar');
  await expect(sidebar.locator('[data-testid="dask-hpc-batch"]')).toContainText('SLURM job 5');
  // The layout restorer reopens the sidebar at once on reload (saved shortly after a change).
  await expect
    .poll(async () => JSON.stringify(await (await page.request.get('/lab/api/workspaces')).json()), { timeout: 30000 })
    .toContain('dask-hpc-sidebar');
  await page.reload();
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await expect(sidebar.locator('[data-testid="dask-hpc-batch"]')).toContainText('SLURM job 5');
  await sidebar.locator('select[name="placement"]').selectOption('jobs');
  await expect(sidebar.locator('select[name="job-system"]')).toHaveValue('slurm');
  await expect(sidebar.locator('select[name="placement"] option')).toHaveText([
    'on this node',
    'on other nodes, as batch jobs',
    'on every node of this job (srun)'
  ]);
});
