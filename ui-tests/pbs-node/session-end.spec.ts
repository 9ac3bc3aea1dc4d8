import { expect, test, type Page } from '@playwright/test';

// The pretend Gadi job has a one-hour walltime that started when this pass did (pbs-node/bin/qstat,
// scripts/ui-test.sh). The sidebar and each running cluster's card show the time left; JupyterLab
// notifications warn 15 and 5 minutes before the end, each once (a reload does not repeat them);
// worker jobs default to the time left. The page's clock is moved (Playwright's clock) to reach
// the warnings; the node's own clock, and so the job's end, stays real.

async function openSidebar(page: Page, navigate = true) {
  if (navigate) await page.goto('/lab');
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('dask-hpc:launch'));
  return page.locator('#dask-hpc-sidebar');
}

const warnings = (page: Page) => page.locator('.Toastify__toast').filter({ hasText: 'This session ends in' });

test('the session’s time left is on the sidebar and the card, with a notification at 15 and at 5 minutes', async ({ page }) => {
  const sidebar = await openSidebar(page);
  const left = sidebar.locator('[data-testid="dask-hpc-session-end"]');
  await expect(left).toHaveText(/^Session ends in (59|60) min \(at \d\d:\d\d\)$/);
  await expect(left).toHaveClass(/jp-DaskHpc-muted/);
  const endsAt = Date.parse((await left.getAttribute('title'))!.match(/ends at (\S+?):? /)![1]);
  expect(endsAt - Date.now()).toBeGreaterThan(55 * 60_000);
  await expect(warnings(page)).toHaveCount(0);

  // Worker jobs: the walltime is left to the engine, which gives the time this job has left.
  await sidebar.locator('select[name="placement"]').selectOption('jobs');
  const jobs = sidebar.locator('[data-testid="dask-hpc-job-fields"]');
  const walltime = jobs.locator('[name="job-walltime"]');
  await expect(walltime).toHaveValue('');
  await expect(walltime).toHaveAttribute('placeholder', 'time this job has left');
  await jobs.locator('[name="job-cores"]').fill('2');
  await jobs.locator('[name="job-memory_gb"]').fill('4');
  const script = sidebar.locator('[data-testid="dask-hpc-job-script"]');
  await expect(script).toContainText(/# walltime 00:5\d:00 \(the time this job, 12\.gadi-pbs, has left\)/);
  await expect(script).toContainText(/#PBS -l .*walltime=00:5\d:00/);
  await walltime.fill('02:00:00'); // the user can ask for more
  await expect(script).toContainText(/#PBS -l .*walltime=02:00:00/);
  await expect(script).not.toContainText('# walltime');
  await sidebar.locator('select[name="placement"]').selectOption('here');

  // A cluster here stops with the session: its card says when.
  await sidebar.locator('input[name="max_workers"]').fill('1');
  await sidebar.locator('input[name="name"]').fill('walltime');
  await sidebar.locator('button.jp-DaskHpc-launch').click();
  const card = sidebar.locator('[data-testid="dask-hpc-card"]').filter({ hasText: 'walltime' });
  await expect(card.locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });
  await expect(card.locator('[data-testid="dask-hpc-card-session-end"]')).toHaveText(/^Session ends in (5\d|60) min/);

  await page.clock.setFixedTime(endsAt - 14.5 * 60_000);
  await expect(warnings(page)).toHaveCount(1, { timeout: 45000 });
  await expect(warnings(page)).toContainText('This session ends in 14 min');
  await expect(warnings(page)).toContainText("their workers' memory is lost. Save results to /scratch or /g/data.");
  await expect(left).toHaveText(/^Session ends in 14 min/, { timeout: 20000 });
  await expect(left).toHaveClass(/jp-DaskHpc-warning/);
  await expect(card.locator('[data-testid="dask-hpc-card-session-end"]')).toHaveText(/^Session ends in 14 min/, { timeout: 20000 });

  await page.clock.setFixedTime(endsAt - 4.5 * 60_000);
  await expect(warnings(page)).toHaveCount(2, { timeout: 45000 });
  await expect(warnings(page).filter({ hasText: 'This session ends in 4 min' })).toHaveCount(1);

  // A reload shows the time left again but neither warning: each came once.
  await page.reload();
  await openSidebar(page, false);
  await expect(left).toHaveText(/^Session ends in 4 min/);
  await page.waitForTimeout(5000); // two refreshes, each of which checks
  await expect(warnings(page)).toHaveCount(0);

  await page.clock.setFixedTime(Date.now());
  await card.getByRole('button', { name: 'Shut down' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Shut down' }).click();
  await expect(card).toHaveCount(0, { timeout: 60000 });
});
