import type { JobState } from '../../../common/protocol';
import type { BatchCommands } from '../../batch/batch-commands';
import { JobTracker, WorkerJob } from '../../batch/worker-job';

/** A batch system that records every call: a cancelled job has finished at the next question. */
function recordingCommands() {
  const cancelled = new Set<string>();
  const calls: { cancel: string[][]; states: string[][] } = { cancel: [], states: [] };
  const commands: BatchCommands = {
    submit: () => Promise.reject(new Error('not used')),
    async states(jobIds) {
      calls.states.push(jobIds);
      return new Map(jobIds.map((id): [string, JobState] => [id, cancelled.has(id) ? 'finished' : 'running']));
    },
    async cancel(jobIds) {
      calls.cancel.push(jobIds);
      for (const id of jobIds) cancelled.add(id);
    }
  };
  return { commands, calls };
}

describe('JobTracker', () => {
  it('cancels every job a teardown ends at once in one qdel/scancel call, and waits until they have finished', async () => {
    const { commands, calls } = recordingCommands();
    const tracker = new JobTracker(commands, 60000, () => undefined);
    const jobs = ['1.pbs', '2.pbs', '3.pbs'].map(id => new WorkerJob(id, '/nonexistent.log', tracker));
    for (const job of jobs) tracker.track(job);
    await Promise.all(jobs.map(job => job.terminate()));
    tracker.stop();
    expect(calls.cancel).toEqual([['1.pbs', '2.pbs', '3.pbs']]);
    expect(jobs.every(job => job.hasExited)).toBe(true);
  });
});
