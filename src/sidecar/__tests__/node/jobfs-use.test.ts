import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resources } from '../../../common/protocol';
import { directoryUsage } from '../../node/directory-usage';
import { withJobfsUse } from '../../node/jobfs-use';

const MiB = 2 ** 20;

function node(jobfs: string | null, request: number | null, extra: Partial<Resources> = {}): Resources {
  return {
    batch_system: 'pbs',
    job_id: '7.gadi-pbs',
    hostname: 'n1',
    cores: 2,
    memory_bytes: 8 * 2 ** 30,
    jobfs,
    jobfs_free_bytes: 100 * 2 ** 30,
    jobfs_size_bytes: 400 * 2 ** 30,
    gpus: 0,
    node_count: 1,
    sources: { cores: 'PBS_NCPUS', memory: 'PBS_VMEM', jobfs: 'PBS_JOBFS' },
    inputs: {},
    warnings: [],
    job: { id: '7', project: null, queue: null, storage: null, walltime_seconds: null, ends_at: null, jobfs_request_bytes: request },
    ...extra
  };
}

describe("the job's own jobfs use", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'jobfs-use-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('counts the blocks of files in nested directories, a hard link once', () => {
    mkdirSync(join(root, 'dask-hpc-0/abc/spill'), { recursive: true });
    writeFileSync(join(root, 'dask-hpc-0/abc/spill/k1'), Buffer.alloc(3 * MiB, 1));
    writeFileSync(join(root, 'top'), Buffer.alloc(MiB, 1));
    const before = directoryUsage(root);
    linkSync(join(root, 'top'), join(root, 'dask-hpc-0/link'));
    const after = directoryUsage(root);
    expect(before?.complete).toBe(true);
    expect(before?.bytes).toBeGreaterThanOrEqual(4 * MiB);
    expect(before?.bytes).toBeLessThan(4 * MiB + 256 * 1024);
    expect(after?.bytes).toBe(before?.bytes);
  });

  test('a walk past its time budget stops and says its figure is a lower bound', () => {
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
    let clock = 0;
    const usage = directoryUsage(root, 10, () => (clock += 6));
    expect(usage?.complete).toBe(false);
  });

  test('an unreadable path is no figure', () => {
    expect(directoryUsage(join(root, 'missing'))).toBeNull();
  });

  test('measured only where the request is known and the directory is the job’s own; the request per node', () => {
    writeFileSync(join(root, 'f'), Buffer.alloc(2 * MiB, 1));
    const measured = withJobfsUse(node(root, 10 * 2 ** 30));
    expect(measured.jobfs_request_node_bytes).toBe(10 * 2 ** 30);
    expect(measured.jobfs_used_bytes).toBeGreaterThanOrEqual(2 * MiB);
    expect(measured.jobfs_used_complete).toBe(true);

    const never = () => {
      throw new Error('must not walk');
    };
    expect(withJobfsUse(node(root, null), never)).toMatchObject({ jobfs_request_node_bytes: null, jobfs_used_bytes: null });
    const tmp = node('/tmp', 10 * 2 ** 30, { sources: { cores: 'x', memory: 'y', jobfs: 'TMPDIR' } });
    expect(withJobfsUse(tmp, never).jobfs_used_bytes).toBeNull();
    expect(withJobfsUse(node(root, 30 * 2 ** 30, { node_count: 3 })).jobfs_request_node_bytes).toBe(10 * 2 ** 30);
  });
});
