import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ClusterState } from '../../../common/protocol';
import { describeWorkerCount } from '../../../common/worker-count';
import { JobPoller } from '../../batch/job-poller';
import { Cluster } from '../../cluster/cluster';
import { FakeDask, localSpec } from './fakes';

// The fakes stand in for every process: execa (an ES module jest's CommonJS cannot load) is never called.
jest.mock('execa', () => ({ execa: jest.fn() }));
jest.setTimeout(30000);

let root: string;
let dask: FakeDask;
let states: ClusterState['status'][];

function localCluster(overrides = {}): Cluster {
  return new Cluster(localSpec(root, overrides), state => states.push(state.status), dask);
}

const running = (cluster: Cluster) => cluster.state.workers.filter(worker => worker.status === 'running').map(worker => worker.name);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cluster-test-'));
  dask = new FakeDask();
  states = [];
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Cluster with local workers', () => {
  test('starts the scheduler and the plan workers, and runs once they have registered', async () => {
    const cluster = localCluster();
    await cluster.start();
    expect(cluster.state.status).toBe('running');
    expect(cluster.state.scheduler_address).toBe('tls://127.0.0.1:8786');
    expect(cluster.state.dashboard_address).toBe('http://127.0.0.1:8787');
    expect(dask.scheduler.flag('--host')).toBe('127.0.0.1');
    expect(dask.workers).toHaveLength(1); // one `dask worker --nworkers 2`
    expect(running(cluster)).toEqual(['test-0-0', 'test-0-1']);
    await cluster.stop();
  });

  test('reports a change only when the state changed: a worker registering writes no record of its own', async () => {
    // Every report is a record written (a shared filesystem's write) and an event to every
    // sidebar; N workers registering must not cost N of each when the state says nothing new.
    const reported: string[] = [];
    const cluster = new Cluster(
      localSpec(root, { plan: { ...localSpec(root).plan, n_workers: 8 } }),
      state => reported.push(JSON.stringify(state)),
      dask
    );
    await cluster.start();
    expect(running(cluster)).toHaveLength(8);
    const repeats = reported.filter((state, i) => i > 0 && state === reported[i - 1]).length;
    expect(repeats).toBe(0);
    expect(reported.length).toBeLessThan(8);
    await cluster.stop();
  });

  test('scales up by a unit of the missing workers, and down by retiring the newest through the scheduler', async () => {
    const cluster = localCluster();
    await cluster.start();
    await cluster.scale(4);
    expect(dask.workers.map(w => w.flag('--nworkers'))).toEqual(['2', '2']);
    expect(running(cluster)).toEqual(['test-0-0', 'test-0-1', 'test-1-0', 'test-1-1']);

    const newest = [dask.registered.get('test-1-0'), dask.registered.get('test-1-1'), dask.registered.get('test-0-1')];
    await cluster.scale(1);
    expect(dask.retired.sort()).toEqual(newest.sort());
    expect(dask.workers[1].terminated).toBe(true); // emptied: ended
    expect(dask.workers[0].terminated).toBe(false); // runs on with its other worker
    expect(running(cluster)).toEqual(['test-0-0']);
    expect(cluster.state.status).toBe('running');
    await cluster.stop();
  });

  test('a scale whose workers do not register in time ends them and fails', async () => {
    const cluster = localCluster({ readyTimeoutMs: 300 });
    await cluster.start();
    dask.workersRegister = false;
    await expect(cluster.scale(3)).rejects.toThrow(/new workers not ready after 0.3 s/);
    expect(dask.workers[1].terminated).toBe(true);
    expect(cluster.state.workers.map(w => w.name)).toEqual(['test-0-0', 'test-0-1']);
    await cluster.stop();
  });

  test('replaces a unit that dies while the cluster runs, counting a restart of each worker', async () => {
    const cluster = localCluster();
    await cluster.start();
    dask.workers[0].die();
    await waitUntil(() => running(cluster).length === 2 && dask.workers.length === 2);
    expect(running(cluster)).toEqual(['test-1-0', 'test-1-1']);
    expect(cluster.state.workers.map(w => w.restarts)).toEqual([1, 1]);
    expect(cluster.state.error).toBeUndefined();
    await cluster.stop();
  });

  test('teardown ends the workers before the scheduler and removes every file of the cluster', async () => {
    const cluster = localCluster();
    await cluster.start();
    const order: string[] = [];
    for (const process of dask.processes) void process.exited.then(() => order.push(process.options.kind));
    expect(existsSync(cluster.state.local_directory)).toBe(true);
    await cluster.stop();
    expect(order).toEqual(['worker', 'scheduler']);
    expect(cluster.state.status).toBe('stopped');
    expect(states.slice(-2)).toEqual(['stopping', 'stopped']);
    expect(existsSync(cluster.state.local_directory)).toBe(false);
    expect(existsSync(join(root, 'tls'))).toBe(false);
  });

  test("once the stop is committed the cluster's directory holds only the user's files, and its own go with its processes", async () => {
    const cluster = localCluster();
    await cluster.start();
    const directory = cluster.state.local_directory;
    writeFileSync(join(directory, 'scheduler.log'), 'log');
    mkdirSync(join(directory, 'dask-scratch-space', 'worker-1'), { recursive: true });
    mkdirSync(join(directory, 'tmp_rechunk.zarr')); // the user's
    const stopping = cluster.stop();
    // At once (the "stopping" change is made before stop() first waits), with processes still to end:
    expect(states.at(-1)).toBe('stopping');
    expect(readdirSync(directory).sort()).toEqual(['tmp_rechunk.zarr']);
    const aside = readdirSync(dirname(directory)).filter(entry => entry.endsWith('.stopping'));
    expect(aside).toHaveLength(1);
    await stopping;
    expect(readdirSync(directory)).toEqual(['tmp_rechunk.zarr']);
    expect(readdirSync(dirname(directory)).filter(entry => entry.endsWith('.stopping'))).toEqual([]);
  });

  test('a scheduler that exits while the cluster runs fails the cluster and ends its workers', async () => {
    const cluster = localCluster();
    await cluster.start();
    dask.scheduler.die();
    await waitUntil(() => cluster.state.status === 'failed');
    expect(cluster.state.error).toMatch(/the scheduler exited \(killed by SIGKILL\)/);
    expect(dask.workers[0].terminated).toBe(true);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

describe('Cluster with worker jobs', () => {
  function jobsCluster(maxQueued?: number) {
    const submitted: string[] = [];
    const cancelled: string[] = [];
    const queued = new Set<string>();
    /** What the batch system says of a queued job's wait (PBS's comment, Slurm's state_reason). */
    const reasons = new Map<string, string>();
    const commands = {
      submit: async () => {
        const id = String(1000 + submitted.length);
        submitted.push(id);
        queued.add(id);
        return id;
      },
      states: async (ids: string[]) =>
        new Map(
          ids.map(
            id =>
              [
                id,
                { state: cancelled.includes(id) ? 'finished' : queued.has(id) ? 'queued' : 'running', reason: reasons.get(id) ?? null }
              ] as const
          )
        ),
      cancel: async (ids: string[]): Promise<void> => {
        cancelled.push(...ids);
      }
    };
    const plan = localSpec(root).plan;
    const spec = {
      system: 'slurm',
      dialect: null,
      cores: 2,
      memory_bytes: 4 * 2 ** 30,
      walltime: '01:00:00',
      queue: null,
      account: null,
      jobfs_bytes: null,
      storage: null,
      prologue: [],
      interface: 'lo',
      plan
    } as const;
    const workerJobs = {
      spec: { ...spec, prologue: [], ...(maxQueued ? { max_queued: maxQueued } : {}) },
      // Asked about every 20 ms only while a job needs watching: a job that ends is found because its workers left.
      poller: new JobPoller(commands, { activeMs: 20, settledMs: 60000, watchMs: 60000, wakeMs: 5 }),
      jobDirectory: join(root, 'jobs'),
      schedulerRoot: join(root, 'here'),
      listenHost: '10.0.0.1',
      initialJobs: 1
    };
    const cluster = localCluster({ workerJobs });
    /** The job starts on its node and its plan's two workers register. */
    const jobRuns = (index: number) => {
      queued.delete(String(1000 + index));
      for (const i of [0, 1]) dask.scheduler.print(`Register worker addr: tls://10.0.0.2:${index}${i} name: test-job-${index}-${i}`);
    };
    /** The job leaves the batch system: its workers leave the scheduler, then it is no longer queued or running. */
    const jobEnds = (index: number) => {
      for (const i of [0, 1]) dask.scheduler.print(`Remove worker addr: tls://10.0.0.2:${index}${i} name: test-job-${index}-${i}`);
      cancelled.push(String(1000 + index));
    };
    return { cluster, submitted, cancelled, reasons, jobRuns, jobEnds };
  }

  /** Waits until `condition` holds (the poller asks every 20 ms while a job needs watching). */
  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 250 && !condition(); i++) await new Promise(resolve => setTimeout(resolve, 20));
    expect(condition()).toBe(true);
  }

  test('scale counts whole jobs, and retires a queued job before a running one', async () => {
    const { cluster, submitted, cancelled, jobRuns } = jobsCluster();
    await cluster.start();
    expect(dask.scheduler.flag('--host')).toBe('10.0.0.1');
    expect(dask.scheduler.options.env.DASK_HPC_WORKER_JOBS).toBe(JSON.stringify({ system: 'slurm', name: 'dask-c0ffee00' }));
    expect(cluster.unitsFor(3)).toBe(2);
    jobRuns(0);
    // Its workers joined: the job runs, before the batch system is next asked.
    expect(cluster.state.workers).toMatchObject([{ name: 'test-job-0', status: 'running', registered: 2, job_state: 'running' }]);
    expect(describeWorkerCount(cluster.state)).toBe('2/2 in jobs 1/1');

    await cluster.scale(2);
    expect(submitted).toEqual(['1000', '1001']);
    await cluster.scale(1);
    expect(cancelled).toEqual(['1001']); // the queued one
    expect(cluster.state.workers.map(w => w.name)).toEqual(['test-job-0']);

    await cluster.stop();
    expect(cancelled).toEqual(['1001', '1000']);
    expect(existsSync(join(root, 'jobs'))).toBe(false);
  });

  test("a queued job's record says why it waits, in the batch system's words, and says nothing of it once the job runs", async () => {
    const { cluster, reasons, jobRuns } = jobsCluster();
    await cluster.start();
    expect(cluster.state.workers).toMatchObject([{ job_id: '1000', job_state: 'queued', job_reason: null }]);
    reasons.set('1000', 'Priority');
    await until(() => cluster.state.workers[0].job_reason === 'Priority');
    reasons.set('1000', 'QOSMaxJobsPerUserLimit');
    await until(() => cluster.state.workers[0].job_reason === 'QOSMaxJobsPerUserLimit');
    jobRuns(0);
    await until(() => cluster.state.workers[0].job_state === 'running');
    expect(cluster.state.workers[0].job_reason).toBeNull();
    await cluster.stop();
  });

  test('holds jobs back while max_queued of them wait in the queue, submits one as one starts, and takes back held ones first', async () => {
    const { cluster, submitted, cancelled, jobRuns } = jobsCluster(2);
    await cluster.start();
    await cluster.scale(5);
    expect(submitted).toEqual(['1000', '1001']); // two queued: the rest wait here, not in the batch system's queue
    expect(cluster.state.jobs_to_submit).toBe(3);
    expect(cluster.size()).toBe(5);

    jobRuns(0); // the first job starts: room for one more in the queue
    await until(() => submitted.length === 3);
    expect(cluster.state.jobs_to_submit).toBe(2);
    expect(cluster.state.workers.filter(w => w.job_state === 'queued')).toHaveLength(2);

    await cluster.scale(3); // the held-back ones go first, nothing is cancelled
    expect(cluster.state.jobs_to_submit).toBe(0);
    expect(cancelled).toEqual([]);
    await cluster.scale(2); // then a queued job, not the running one
    expect(cancelled).toEqual(['1002']);
    await cluster.stop();
  });

  test('a job whose workers retired at their lifetime (the walltime) is replaced every time, for as long as the cluster runs', async () => {
    // Walltime 01:00:00: the workers retire after 54 min ± 90 s. Twelve such jobs end one after the other.
    const realNow = Date.now.bind(Date);
    let later = 0;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + later);
    try {
      const { cluster, submitted, jobRuns, jobEnds } = jobsCluster();
      await cluster.start();
      for (let index = 0; index < 12; index++) {
        await until(() => submitted.length === index + 1);
        jobRuns(index);
        await until(() => cluster.state.workers.some(w => w.name === `test-job-${index}` && w.status === 'running'));
        later += 3200 * 1000;
        jobEnds(index);
      }
      await until(() => submitted.length === 13);
      expect(cluster.state.error).toBeUndefined();
      // The card and ls say which job the new one replaces, and that it ended as planned.
      await until(() => cluster.state.workers.some(w => w.job_id === '1012'));
      const replacement = cluster.state.workers.find(w => w.job_id === '1012');
      expect(replacement?.replaces).toMatchObject({ job_id: '1011', reason: 'lifetime' });
      expect(Date.parse(replacement?.replaces?.at ?? '')).not.toBeNaN();
      await cluster.stop();
    } finally {
      clock.mockRestore();
    }
  });

  test('jobs that keep ending early are replaced 10 times, then the cluster says why it shrank', async () => {
    const { cluster, submitted, jobRuns, jobEnds } = jobsCluster();
    await cluster.start();
    for (let index = 0; index < 11; index++) {
      await until(() => submitted.length === index + 1);
      jobRuns(index);
      await until(() => cluster.state.workers.some(w => w.name === `test-job-${index}` && w.status === 'running'));
      jobEnds(index); // minutes into a one-hour walltime: killed, not retired
      if (index === 0) {
        await until(() => submitted.length === 2);
        expect(cluster.state.workers.find(w => w.job_id === '1001')?.replaces).toMatchObject({ job_id: '1000', reason: 'ended' });
      }
    }
    await until(() => Boolean(cluster.state.error));
    expect(submitted).toHaveLength(11);
    expect(cluster.state.error).toContain('worker job test-job-10 (1010) ended');
    expect(cluster.state.error).toContain('not replaced');
    await cluster.stop();
  });
});
