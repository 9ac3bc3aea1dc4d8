import { openLab } from '../tests/own-jupyter';
import { expect, test, type Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';

// The sidebar path a user feels: from the click on Launch to the card saying "running" with
// every planned worker, in real JupyterLab and Chromium. Not a test: bench/run.sh --sidebar
// runs it and prints medians. The shutdown that follows each trial is not timed, but is waited
// for, so the next trial starts on an empty node.
const REPEATS = Number(process.env.BENCH_REPEATS || 5);
const WORKER_COUNTS = (process.env.BENCH_WORKERS || '1,2').split(',').map(Number);

let page: Page;
const sidebar = () => page.locator('#dask-hpc-sidebar');
const card = () => sidebar().locator('[data-testid="dask-hpc-card"]');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function launchToRunning(workers: number): Promise<number> {
  await sidebar().locator('input[name="workload"][value="cpu"]').check();
  await sidebar().locator('input[name="max_workers"]').fill(String(workers));
  await expect(sidebar().locator('[data-testid="dask-hpc-plan"]')).toContainText(`${workers} worker`);
  const launch = sidebar().locator('button.jp-DaskHpc-launch');
  await expect(launch).toBeEnabled();
  // Timed in the page: from the click's event to the frame in which the card shows it all.
  const seconds = await page.evaluate(
    ([workers]) =>
      new Promise<number>((resolve, reject) => {
        const root = document.querySelector('#dask-hpc-sidebar')!;
        const button = root.querySelector<HTMLButtonElement>('button.jp-DaskHpc-launch')!;
        const start = performance.now();
        const done = () => {
          const text = (testId: string) => (root.querySelector(`[data-testid="${testId}"]`) as HTMLElement | null)?.innerText;
          if (text('dask-hpc-status') === 'running' && text('dask-hpc-workers')?.includes(`${workers}/${workers}`)) {
            observer.disconnect();
            clearTimeout(timer);
            resolve((performance.now() - start) / 1000);
          }
        };
        const observer = new MutationObserver(done);
        observer.observe(root, { subtree: true, childList: true, characterData: true });
        const timer = setTimeout(() => reject(new Error(`not running within 120 s: ${(root as HTMLElement).innerText}`)), 120000);
        button.click();
      }),
    [workers] as const
  );
  const clusters = await (await page.request.get('/dask-hpc/api/clusters')).json();
  for (const cluster of clusters) await page.request.delete(`/dask-hpc/api/clusters/${cluster.id}`);
  await expect(card()).toHaveCount(0, { timeout: 60000 });
  return seconds;
}

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  await openLab(page, '/lab');
  await page.evaluate(async () => void (await (window as any).jupyterapp.commands.execute('dask-hpc:launch', {})));
});

test('launch to running, from the sidebar', async () => {
  test.setTimeout(REPEATS * WORKER_COUNTS.length * 150000);
  const samples: Record<number, number[]> = {};
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const workers of WORKER_COUNTS) (samples[workers] ??= []).push(await launchToRunning(workers));
  }
  const rows = WORKER_COUNTS.map(workers => ({ workers, median_s: median(samples[workers]), samples_s: samples[workers] }));
  console.log('\n| workers | Launch to running (median) | samples (s) |\n| ---: | ---: | --- |');
  for (const row of rows) {
    console.log(`| ${row.workers} | ${row.median_s.toFixed(2)} s | ${row.samples_s.map(s => s.toFixed(2)).join(', ')} |`);
  }
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(rows, null, 1) + '\n');
});
