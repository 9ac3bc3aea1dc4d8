import { expect, test } from '@playwright/test';
import { openLab } from './own-jupyter';

// JupyterLab of a venv made by `pip install` of the wheel: tests/test_install.py starts it (node
// and npm hidden), launches a cluster through the REST API and runs this spec through
// playwright.installed.config.js.
const token = process.env.DASK_HPC_INSTALLED_TOKEN ?? '';
const name = process.env.DASK_HPC_INSTALLED_CLUSTER ?? '';
test.skip(!process.env.DASK_HPC_INSTALLED_URL, 'run by tests/test_install.py against the JupyterLab of a fresh install');

test("after pip install, a cluster's card opens its Bokeh dashboard in a tab", async ({ page }) => {
  await openLab(page, `/lab?token=${token}`);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('dask-hpc:launch'));
  const card = page.locator('#dask-hpc-sidebar [data-testid="dask-hpc-card"]').filter({ hasText: name });
  await expect(card.locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 60000 });

  await card.getByRole('button', { name: 'Dashboard' }).click();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: /^Dask Status · / })).toHaveText(`Dask Status · ${name}`);
  // Bokeh's page, not the "404: Not Found" that distributed serves without Bokeh.
  const frame = page.frameLocator('.jp-DaskHpc-dashboard iframe').first();
  await expect(frame.locator('body')).toContainText('Workers', { timeout: 60000 });
  await expect.poll(() => frame.locator('body').evaluate(() => typeof (window as any).Bokeh), { timeout: 60000 }).toBe('object');
});
