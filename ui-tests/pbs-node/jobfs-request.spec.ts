import { expect, test } from '@playwright/test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The pretend Gadi job asked for -l jobfs=500mb (pbs-node/bin/qstat) and has its own
// PBS_JOBFS (scripts/ui-test.sh): the bar is the job directory's use against that request,
// it warns from 80%, and the launch form's plan shows each worker's spill cap from it.
test("the jobfs bar is use against the job's request and warns before it is reached", async ({ page }) => {
  const jobfs = process.env.PBS_JOBFS;
  expect(jobfs, 'scripts/ui-test.sh sets PBS_JOBFS for the pbs-node pass').toBeTruthy();
  const filler = join(jobfs as string, 'results.bin');
  try {
    await page.goto('/lab');
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
    await page.evaluate(() => (window as any).jupyterapp.restored);
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('dask-hpc:launch'));
    const sidebar = page.locator('#dask-hpc-sidebar');
    const bar = sidebar.locator('[data-testid="dask-hpc-resource-job-filesystem"]');
    await expect(bar).toContainText(/used of 500 MiB requested/);
    await expect(bar).not.toHaveClass(/jp-DaskHpc-resource-warn/);
    await expect(sidebar.locator('[data-testid="dask-hpc-jobfs-warning"]')).toHaveCount(0);
    await expect(sidebar.locator('[data-testid="dask-hpc-spill-cap"]')).toContainText(
      /Spill cap: at most [\d.]+ MiB per worker \(jobfs request 500 MiB − 256 MiB margin/
    );

    writeFileSync(filler, Buffer.alloc(420 * 2 ** 20, 1)); // real blocks, 84% of the request
    await expect(bar).toContainText(/4\d\d(\.\d)? MiB used of 500 MiB requested/, { timeout: 15000 });
    await expect(bar).toHaveClass(/jp-DaskHpc-resource-warn/);
    await expect(sidebar.locator('[data-testid="dask-hpc-jobfs-warning"]')).toContainText(
      "% used of the job's request: a job that passes its jobfs request is killed"
    );

    rmSync(filler);
    await expect(sidebar.locator('[data-testid="dask-hpc-jobfs-warning"]')).toHaveCount(0, { timeout: 15000 });
  } finally {
    rmSync(filler, { force: true });
  }
});
