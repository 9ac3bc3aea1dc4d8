import { describeQueueReason, describeReplacement } from '../job-notes';
import type { ClusterWorker } from '../protocol';

const job = (replaces: ClusterWorker['replaces']): ClusterWorker => ({
  name: 'w-job-3',
  status: 'starting',
  pid: null,
  restarts: 0,
  job_id: '13.gadi-pbs',
  job_state: 'queued',
  registered: 0,
  replaces
});

describe('describeReplacement', () => {
  const at = new Date(2026, 11, 4, 13, 52, 7).toISOString();

  it('says which job a worker job replaces, why that one ended and when', () => {
    expect(describeReplacement(job({ job_id: '12.gadi-pbs', reason: 'ended', at }))).toBe(
      'job 13.gadi-pbs replaces 12.gadi-pbs: it ended early (qdel, a node lost) at 13:52:07'
    );
    expect(describeReplacement(job({ job_id: '12.gadi-pbs', reason: 'lifetime', at }))).toBe(
      'job 13.gadi-pbs replaces 12.gadi-pbs: its workers retired before its walltime at 13:52:07'
    );
  });

  it('says nothing of a job that replaces none', () => {
    expect(describeReplacement(job(null))).toBeNull();
    expect(describeReplacement(job(undefined))).toBeNull();
  });
});

describe('describeQueueReason', () => {
  const queued = (job_state: ClusterWorker['job_state'], job_reason: ClusterWorker['job_reason']): ClusterWorker => ({
    ...job(null),
    job_id: '12.gadi-pbs',
    job_state,
    job_reason
  });

  it("says why a queued job waits, in the batch system's words", () => {
    expect(describeQueueReason(queued('queued', 'Not Running: Insufficient amount of resource: ncpus (R: 2 A: 0 T: 6)'))).toBe(
      'job 12.gadi-pbs queued: Not Running: Insufficient amount of resource: ncpus (R: 2 A: 0 T: 6)'
    );
    expect(describeQueueReason(queued('queued', 'QOSMaxJobsPerUserLimit'))).toBe('job 12.gadi-pbs queued: QOSMaxJobsPerUserLimit');
  });

  it('says nothing of a job that runs, or one given no reason (older records have none)', () => {
    expect(describeQueueReason(queued('running', 'Resources'))).toBeNull();
    expect(describeQueueReason(queued('queued', null))).toBeNull();
    expect(describeQueueReason(queued('queued', undefined))).toBeNull();
  });
});
