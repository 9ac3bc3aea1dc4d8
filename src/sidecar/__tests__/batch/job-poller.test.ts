import type { BatchCommands } from '../../batch/batch-commands';
import type { JobStatus } from '../../batch/job-states';
import { JobPoller } from '../../batch/job-poller';
import { WorkerJob } from '../../batch/worker-job';

/** A batch system that records every call: a cancelled job has finished at the next question. */
function recordingCommands() {
  const cancelled = new Set<string>();
  const calls: { cancel: string[][]; states: string[][] } = { cancel: [], states: [] };
  const commands: BatchCommands = {
    submit: () => Promise.reject(new Error('not used')),
    async states(jobIds) {
      calls.states.push(jobIds);
      return new Map(jobIds.map((id): [string, JobStatus] => [id, { state: cancelled.has(id) ? 'finished' : 'running', reason: null }]));
    },
    async cancel(jobIds) {
      calls.cancel.push(jobIds);
      for (const id of jobIds) cancelled.add(id);
    }
  };
  return { commands, calls, cancelled };
}

const rates = { activeMs: 1000, settledMs: 10000, watchMs: 5000, wakeMs: 100 };

describe('JobPoller', () => {
  afterEach(() => jest.useRealTimers());

  it('cancels every job a teardown ends at once in one qdel/scancel call, and waits until they have finished', async () => {
    const { commands, calls } = recordingCommands();
    const poller = new JobPoller(commands, { ...rates, activeMs: 60000 });
    const jobs = ['1.pbs', '2.pbs', '3.pbs'].map(id => new WorkerJob(id, '/nonexistent.log', poller));
    for (const job of jobs) poller.track(job, () => undefined);
    await Promise.all(jobs.map(job => job.terminate()));
    poller.stop();
    expect(calls.cancel).toEqual([['1.pbs', '2.pbs', '3.pbs']]);
    expect(jobs.every(job => job.hasExited)).toBe(true);
  });

  it("asks one question for the jobs of every cluster, and tells each cluster of its own jobs' changes", async () => {
    jest.useFakeTimers();
    const { commands, calls } = recordingCommands();
    const poller = new JobPoller(commands, rates);
    const first = new WorkerJob('1.pbs', '/nonexistent.log', poller);
    const second = new WorkerJob('2.pbs', '/nonexistent.log', poller);
    const told: string[] = [];
    poller.track(first, job => told.push(`cluster A: ${job.jobId} ${job.state}`));
    poller.track(second, job => told.push(`cluster B: ${job.jobId} ${job.state}`));
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls.states).toEqual([['1.pbs', '2.pbs']]);
    expect(told).toEqual(['cluster A: 1.pbs running', 'cluster B: 2.pbs running']);
    poller.stop();
  });

  it('asks every second while a job is watched, every 10 s once its workers are in, and at once when it loses some', async () => {
    jest.useFakeTimers();
    const { commands, calls } = recordingCommands();
    const poller = new JobPoller(commands, rates);
    const job = new WorkerJob('1.pbs', '/nonexistent.log', poller);
    poller.track(job, () => undefined);
    await jest.advanceTimersByTimeAsync(3000);
    expect(calls.states).toHaveLength(3); // just submitted: watched

    poller.setSettled(job, true); // every worker of the job has registered
    await jest.advanceTimersByTimeAsync(30000);
    expect(calls.states).toHaveLength(3 + 3);

    poller.setSettled(job, false); // its workers left the scheduler: qdel, a node lost?
    await jest.advanceTimersByTimeAsync(100);
    expect(calls.states).toHaveLength(7);
    await jest.advanceTimersByTimeAsync(2000);
    expect(calls.states).toHaveLength(9); // watched again
    poller.stop();
  });

  it('asks about a job that waits in the queue for long at the slow rate, and at once when woken', async () => {
    jest.useFakeTimers();
    const { commands, calls } = recordingCommands();
    const poller = new JobPoller(commands, rates);
    poller.track(new WorkerJob('1.pbs', '/nonexistent.log', poller), () => undefined);
    await jest.advanceTimersByTimeAsync(5000);
    const watched = calls.states.length;
    expect(watched).toBe(5);
    await jest.advanceTimersByTimeAsync(40000);
    expect(calls.states.length - watched).toBeLessThanOrEqual(4); // not 40
    const before = calls.states.length;
    poller.wake(); // its first worker registered: the job runs now
    await jest.advanceTimersByTimeAsync(100);
    expect(calls.states).toHaveLength(before + 1);
    poller.stop();
  });

  it('stops asking once its jobs have finished or been forgotten', async () => {
    jest.useFakeTimers();
    const { commands, calls, cancelled } = recordingCommands();
    const poller = new JobPoller(commands, rates);
    const finishing = new WorkerJob('1.pbs', '/nonexistent.log', poller);
    const forgotten = new WorkerJob('2.pbs', '/nonexistent.log', poller);
    poller.track(finishing, () => undefined);
    poller.track(forgotten, () => undefined);
    cancelled.add('1.pbs');
    await jest.advanceTimersByTimeAsync(1000);
    expect(finishing.hasExited).toBe(true);
    poller.forget(forgotten);
    await jest.advanceTimersByTimeAsync(60000);
    expect(calls.states).toEqual([['1.pbs', '2.pbs']]);
  });

  it("tells the cluster when the batch system's reason for a queued job changes, and drops the reason once it runs", async () => {
    jest.useFakeTimers();
    let now: JobStatus = { state: 'queued', reason: null };
    const commands: BatchCommands = {
      submit: () => Promise.reject(new Error('not used')),
      states: async jobIds => new Map(jobIds.map(id => [id, now])),
      cancel: async () => undefined
    };
    const poller = new JobPoller(commands, rates);
    const job = new WorkerJob('12.gadi-pbs', '/nonexistent.log', poller);
    const told: string[] = [];
    poller.track(job, changed => told.push(`${changed.state}: ${changed.reason}`));
    await jest.advanceTimersByTimeAsync(1000); // queued, no reason yet: as submitted, nothing new
    now = { state: 'queued', reason: 'Not Running: Insufficient amount of resource: ncpus (R: 2 A: 0 T: 6)' };
    await jest.advanceTimersByTimeAsync(2000); // the same reason asked about twice: told once
    now = { state: 'queued', reason: 'Job held by root on Fri Dec  4 17:50:00 2026' };
    await jest.advanceTimersByTimeAsync(1000);
    now = { state: 'running', reason: 'Job held by root on Fri Dec  4 17:50:00 2026' };
    await jest.advanceTimersByTimeAsync(1000);
    expect(told).toEqual([
      'queued: Not Running: Insufficient amount of resource: ncpus (R: 2 A: 0 T: 6)',
      'queued: Job held by root on Fri Dec  4 17:50:00 2026',
      'running: null'
    ]);
    expect(job.reason).toBeNull();
    poller.stop();
  });
});
