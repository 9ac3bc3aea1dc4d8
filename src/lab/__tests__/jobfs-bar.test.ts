import type { Resources } from '../../common/protocol';
import { jobfsAgainstRequest } from '../jobfs-bar';

const GiB = 2 ** 30;

function resources(fields: Partial<Resources>): Resources {
  return {
    batch_system: 'pbs',
    job_id: '7.gadi-pbs',
    hostname: 'n1',
    cores: 2,
    memory_bytes: 8 * GiB,
    jobfs: '/jobfs/7.gadi-pbs',
    jobfs_free_bytes: 75 * GiB,
    jobfs_size_bytes: 252 * GiB,
    gpus: 0,
    node_count: 1,
    sources: { cores: 'PBS_NCPUS', memory: 'PBS_VMEM', jobfs: 'PBS_JOBFS' },
    inputs: {},
    warnings: [],
    ...fields
  };
}

describe('the jobfs bar against the job’s request', () => {
  test('use of the job directory against the request, not the disk', () => {
    const bar = jobfsAgainstRequest(
      resources({ jobfs_request_node_bytes: 10 * GiB, jobfs_used_bytes: 1.2 * GiB, jobfs_used_complete: true })
    );
    expect(bar).toEqual({ used: 1.2 * GiB, total: 10 * GiB, text: '1.2 GiB used of 10 GiB requested', warning: null });
  });
  test('warns from 80% of the request, and a cut-short measure says "at least"', () => {
    expect(jobfsAgainstRequest(resources({ jobfs_request_node_bytes: 10 * GiB, jobfs_used_bytes: 7.9 * GiB }))?.warning).toBeNull();
    const near = jobfsAgainstRequest(
      resources({ jobfs_request_node_bytes: 10 * GiB, jobfs_used_bytes: 8 * GiB, jobfs_used_complete: false })
    );
    expect(near?.text).toBe('at least 8 GiB used of 10 GiB requested');
    expect(near?.warning).toMatch(/^The job filesystem is 80% used of the job's request: a job that passes its jobfs request is killed/);
    const past = jobfsAgainstRequest(resources({ jobfs_request_node_bytes: 10 * GiB, jobfs_used_bytes: 12 * GiB }));
    expect(past?.warning).toMatch(/120% used/);
  });
  test('request or use unknown (or an odd request): no bar of the request, the disk as before', () => {
    expect(jobfsAgainstRequest(resources({}))).toBeNull();
    expect(jobfsAgainstRequest(resources({ jobfs_request_node_bytes: 10 * GiB, jobfs_used_bytes: null }))).toBeNull();
    expect(jobfsAgainstRequest(resources({ jobfs_request_node_bytes: 0, jobfs_used_bytes: 5 }))).toBeNull();
  });
});
