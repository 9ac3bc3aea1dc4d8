import { expect, test } from '@playwright/test';

// JupyterLab inside a (pretend) Gadi job whose qstat says -P proj, -q normal,
// -l storage=scratch/proj: the worker-job fields start with them, and the previewed script
// says they came from this job; what the user types instead wins.
test("in a PBS job the worker-job fields start with the job's project, queue and storage", async ({ page }) => {
  await page.goto('/lab');
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('dask-hpc:launch'));
  const sidebar = page.locator('#dask-hpc-sidebar');
  await expect(sidebar.locator('[data-testid="dask-hpc-batch"]')).toContainText('PBS job 12.gadi-pbs');
  await sidebar.locator('select[name="placement"]').selectOption('jobs');
  const jobs = sidebar.locator('[data-testid="dask-hpc-job-fields"]');
  await expect(jobs.locator('[name="job-account"]')).toHaveValue('proj');
  await expect(jobs.locator('[name="job-queue"]')).toHaveValue('normal');
  await expect(jobs.locator('[name="job-storage"]')).toHaveValue('scratch/proj');
  await jobs.locator('[name="job-cores"]').fill('2');
  await jobs.locator('[name="job-memory_gb"]').fill('4');
  const script = sidebar.locator('[data-testid="dask-hpc-job-script"]');
  await expect(script).toContainText('#PBS -P proj');
  await expect(script).toContainText('# project proj (from this job, 12.gadi-pbs)');
  await expect(script).toContainText('# storage scratch/proj (from this job, 12.gadi-pbs)');
  await jobs.locator('[name="job-account"]').fill('ab12');
  await expect(script).toContainText('#PBS -P ab12');
  await expect(script).not.toContainText('# project');
});
