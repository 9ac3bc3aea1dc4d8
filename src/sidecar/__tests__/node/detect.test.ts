import { chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../errors';
import { detectResources } from '../../node/detect';
import { planCluster } from '../../node/plan';
import { checkPrivateRoot } from '../../state/private-directory';
import { makeNodeRoot } from './node-fixture';

// The node's own figures are tested here; asking qstat/scontrol is job-request.test.ts's.
jest.mock('../../node/job-request', () => ({
  readJobRequest: (_system: string, id: string) => ({
    job: { id, project: null, queue: null, storage: null, walltime_seconds: null, ends_at: null, jobfs_request_bytes: null },
    warnings: []
  })
}));

const GiB = 2 ** 30;
const GB_GADI = 192 * GiB; // a Gadi "normal" node's physical memory

describe('PBS on Gadi', () => {
  test('normal queue, a whole 48-core node: PBS_NCPUS and the cgroup v1 limit of the job', () => {
    const root = makeNodeRoot({
      cpusAllowed: '0-47',
      memTotalBytes: GB_GADI,
      cgroupMembership: ['12:cpu,cpuacct:/pbs_jobs.service/jobid/123.gadi-pbs', '4:memory:/pbs_jobs.service/jobid/123.gadi-pbs', '0::/'],
      files: {
        '/sys/fs/cgroup/memory/pbs_jobs.service/jobid/123.gadi-pbs/memory.limit_in_bytes': String(190 * GiB),
        '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712',
        '/sys/fs/cgroup/cpu,cpuacct/pbs_jobs.service/jobid/123.gadi-pbs/cpu.cfs_quota_us': '-1',
        '/sys/fs/cgroup/cpu,cpuacct/pbs_jobs.service/jobid/123.gadi-pbs/cpu.cfs_period_us': '100000'
      }
    });
    const env = {
      PBS_JOBID: '123.gadi-pbs',
      PBS_NCPUS: '48',
      PBS_VMEM: String(190 * GiB),
      PBS_JOBFS: '/jobfs/123.gadi-pbs',
      PBS_NGPUS: '0'
    };
    const resources = detectResources({ env, root, hostname: 'gadi-cpu-clx-0001' });
    expect(resources).toMatchObject({
      batch_system: 'pbs',
      job_id: '123.gadi-pbs',
      cores: 48,
      memory_bytes: 190 * GiB,
      jobfs: '/jobfs/123.gadi-pbs',
      sources: { cores: 'PBS_NCPUS', memory: 'PBS_VMEM', jobfs: 'PBS_JOBFS' }
    });
    expect(resources.warnings).toEqual([]);
  });

  test('normalsr, 104 cores and 500gb written as PBS does', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-103', memTotalBytes: 512 * GiB });
    const resources = detectResources({ env: { PBS_JOBID: '9.gadi-pbs', PBS_NCPUS: '104', PBS_VMEM: '500gb' }, root });
    expect(resources.cores).toBe(104);
    expect(resources.memory_bytes).toBe(500 * GiB);
  });

  test('hugemem: 1470GB in upper case', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-47', memTotalBytes: 1536 * GiB });
    const resources = detectResources({ env: { PBS_JOBID: '7.gadi-pbs', NCPUS: '48', PBS_VMEM: '1470GB' }, root });
    expect(resources.memory_bytes).toBe(1470 * GiB);
    expect(resources.sources.cores).toBe('NCPUS');
  });

  test('an ARE session of 4 cores and 16 GiB on a shared node: the CPU set and cgroup are the truth', () => {
    const root = makeNodeRoot({
      cpusAllowed: '8-11',
      memTotalBytes: GB_GADI,
      cgroupMembership: ['4:memory:/pbs_jobs.service/jobid/55.gadi-pbs', '1:cpu:/'],
      files: { '/sys/fs/cgroup/memory/pbs_jobs.service/jobid/55.gadi-pbs/memory.limit_in_bytes': String(16 * GiB) }
    });
    // ARE sets the node's figures here, not the job's: the clamps must catch it.
    const env = { PBS_JOBID: '55.gadi-pbs', PBS_NCPUS: '48', PBS_VMEM: '190gb', PBS_JOBFS: '/jobfs/55.gadi-pbs' };
    const resources = detectResources({ env, root });
    expect(resources.cores).toBe(4);
    expect(resources.memory_bytes).toBe(16 * GiB);
    expect(resources.sources.cores).toMatch(/Cpus_allowed_list/);
    expect(resources.sources.memory).toMatch(/cgroup memory limit .*55\.gadi-pbs\/memory\.limit_in_bytes/);
    expect(resources.warnings.join('\n')).toMatch(/PBS_NCPUS says 48 CPUs but .* allows 4 CPUs/);
  });

  test('a multi-node job counts the hosts of PBS_NODEFILE', () => {
    const root = makeNodeRoot({
      cpusAllowed: '0-47',
      memTotalBytes: GB_GADI,
      files: { '/var/spool/pbs/aux/8.gadi-pbs': 'n1\nn1\nn2\nn2\nn3\n' }
    });
    const env = { PBS_JOBID: '8.gadi-pbs', PBS_NCPUS: '48', PBS_NODEFILE: '/var/spool/pbs/aux/8.gadi-pbs' };
    expect(detectResources({ env, root }).node_count).toBe(3);
  });

  test("a 3-node job's PBS_NCPUS and PBS_VMEM are the whole job's: each node plans with its share", () => {
    const root = makeNodeRoot({
      cpusAllowed: '0-47',
      memTotalBytes: GB_GADI,
      files: { '/var/spool/pbs/aux/8.gadi-pbs': 'n1\nn2\nn3\n' }
    });
    const env = { PBS_JOBID: '8.gadi-pbs', PBS_NCPUS: '144', PBS_VMEM: '570gb', PBS_NODEFILE: '/var/spool/pbs/aux/8.gadi-pbs' };
    const resources = detectResources({ env, root });
    expect(resources).toMatchObject({ cores: 48, memory_bytes: 190 * GiB, node_count: 3 });
    expect(resources.sources.memory).toBe('PBS_VMEM ÷ 3 nodes (PBS_NODEFILE)');
    expect(resources.warnings).toEqual([]);
  });
});

describe('Slurm', () => {
  test('memory per node, cgroup v2 limit set on the job, not the step', () => {
    const job = '/system.slice/slurmstepd.scope/job_42';
    const root = makeNodeRoot({
      cpusAllowed: '0-31',
      memTotalBytes: 256 * GiB,
      cgroupMembership: [`0::${job}/step_0/user/task_0`],
      files: {
        [`/sys/fs/cgroup${job}/memory.max`]: String(120 * GiB),
        [`/sys/fs/cgroup${job}/step_0/memory.max`]: 'max',
        [`/sys/fs/cgroup${job}/cpu.max`]: 'max 100000'
      }
    });
    const env = { SLURM_JOB_ID: '42', SLURM_CPUS_ON_NODE: '32', SLURM_MEM_PER_NODE: '128000', SLURM_TMPDIR: '/local/slurm-42' };
    const resources = detectResources({ env, root });
    expect(resources).toMatchObject({ batch_system: 'slurm', job_id: '42', cores: 32, jobfs: '/local/slurm-42' });
    // 128000 MiB asked for, but the job's cgroup holds it to 120 GiB.
    expect(resources.memory_bytes).toBe(120 * GiB);
    expect(resources.sources.memory).toContain(`${job}/memory.max`);
  });

  test('memory per CPU times the CPUs on the node', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-63', memTotalBytes: 256 * GiB });
    const env = { SLURM_JOB_ID: '43', SLURM_CPUS_ON_NODE: '8', SLURM_MEM_PER_CPU: '4000' };
    const resources = detectResources({ env, root });
    expect(resources.cores).toBe(8);
    expect(resources.memory_bytes).toBe(8 * 4000 * 2 ** 20);
    expect(resources.sources.memory).toBe('SLURM_MEM_PER_CPU × 8 CPUs');
  });

  test('SLURM_JOB_CPUS_PER_NODE in its 16(x2) form, clamped by a cgroup v2 CPU quota', () => {
    const root = makeNodeRoot({
      cpusAllowed: '0-63',
      memTotalBytes: 64 * GiB,
      cgroupMembership: ['0::/job_44'],
      files: { '/sys/fs/cgroup/job_44/cpu.max': '400000 100000' }
    });
    const resources = detectResources({ env: { SLURM_JOB_ID: '44', SLURM_JOB_CPUS_PER_NODE: '16(x2)' }, root });
    expect(resources.cores).toBe(4);
    expect(resources.sources.cores).toContain('cpu.max');
  });
});

describe("the job's own request from its batch system", () => {
  const root = () => makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
  test("inside a job: the job object, and the query's warnings with the node's; the node's figures still count", () => {
    const asked: string[] = [];
    const resources = detectResources({
      env: { SLURM_JOB_ID: '7', SLURM_CPUS_ON_NODE: '2' },
      root: root(),
      readJob: (system, id) => {
        asked.push(`${system} ${id}`);
        return {
          job: { id, project: null, queue: null, storage: null, walltime_seconds: null, ends_at: null, jobfs_request_bytes: null },
          warnings: ['scontrol did not answer']
        };
      }
    });
    expect(asked).toEqual(['slurm 7']);
    expect(resources.job).toMatchObject({ id: '7' });
    expect(resources.cores).toBe(2);
    expect(resources.warnings).toEqual(['scontrol did not answer']);
  });
  test('outside a job: no job, and nothing is asked', () => {
    const resources = detectResources({
      env: {},
      root: root(),
      readJob: () => {
        throw new Error('asked');
      }
    });
    expect(resources.job).toBeNull();
  });
});

describe('no batch system', () => {
  test('the CPU set and MemTotal; a cgroup limit above MemTotal changes nothing', () => {
    const root = makeNodeRoot({
      cpusAllowed: '0-1',
      memTotalBytes: 24 * GiB,
      cgroupMembership: ['0::/user.slice'],
      files: { '/sys/fs/cgroup/user.slice/memory.max': String(64 * GiB) }
    });
    const resources = detectResources({ env: {}, root });
    expect(resources).toMatchObject({ batch_system: 'none', job_id: null, cores: 2, memory_bytes: 24 * GiB, jobfs: null });
    expect(resources.warnings).toEqual([]);
  });

  test('a cgroup v1 CPU quota of 1.5 cores gives 1 core', () => {
    const root = makeNodeRoot({
      cpusAllowed: '0-7',
      memTotalBytes: 8 * GiB,
      cgroupMembership: ['3:cpu,cpuacct:/docker/abc'],
      files: {
        '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '150000',
        '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000'
      }
    });
    expect(detectResources({ env: {}, root }).cores).toBe(1);
  });

  test('TMPDIR is the job filesystem when nothing better is set', () => {
    const root = makeNodeRoot({ cpusAllowed: '0', memTotalBytes: 4 * GiB });
    expect(detectResources({ env: { TMPDIR: '/scratch/tmp' }, root })).toMatchObject({
      jobfs: '/scratch/tmp',
      sources: { jobfs: 'TMPDIR' }
    });
  });
});

describe('a job filesystem another user can rearrange is passed over', () => {
  /** A real directory tree: `/<base>/project` at `mode` (a project's scratch), `tmp` under it. */
  function projectTmp(mode: number): { project: string; tmp: string } {
    const base = mkdtempSync(join(tmpdir(), 'detect-'));
    const project = join(base, 'project');
    mkdirSync(join(project, 'tmp'), { recursive: true });
    chmodSync(project, mode);
    chmodSync(join(project, 'tmp'), 0o700);
    return { project, tmp: join(project, 'tmp') };
  }

  test('TMPDIR under a 2770 project directory: the next private place, and a warning naming it and why', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    const { project, tmp } = projectTmp(0o2770);
    const jobfs = mkdtempSync(join(tmpdir(), 'jobfs-'));
    const resources = detectResources({ env: { PBS_JOBID: '1.pbs', PBS_JOBFS: tmp, TMPDIR: jobfs }, root });
    expect(resources.jobfs).toBe(jobfs);
    expect(resources.sources.jobfs).toBe('TMPDIR');
    expect(resources.warnings).toEqual([
      `PBS_JOBFS=${JSON.stringify(tmp)} is not private: ${realpathSync(project)} is writable by its group without the sticky bit (mode 2770), so they can rename or replace what is in it; passed over it for the next private place.`
    ]);
    // The plan carries it, and says nothing about unset variables.
    const plan = planCluster(resources, { workload: 'cpu' });
    expect(plan.warnings).toContain(resources.warnings[0]);
    expect(plan.warnings.join('\n')).not.toMatch(/are unset/);
    expect(plan.local_directory).toBe(`${jobfs}/dask-hpc-${process.getuid!()}`);
  });

  test('only an unsafe TMPDIR: /tmp, last', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    const { tmp } = projectTmp(0o777);
    const resources = detectResources({ env: { TMPDIR: tmp }, root });
    expect(resources.jobfs).toBeNull();
    expect(resources.sources.jobfs).toMatch(/^none private/);
    expect(resources.warnings[0]).toMatch(/is writable by everyone without the sticky bit \(mode 0777\)/);
    expect(planCluster(resources, { workload: 'cpu' }).local_directory).toBe(`/tmp/dask-hpc-${process.getuid!()}`);
  });

  test('a sticky world-writable directory (a shared /tmp) and our own 0750 are private places', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    for (const mode of [0o1777, 0o750, 0o2750]) {
      const { tmp } = projectTmp(mode);
      const resources = detectResources({ env: { TMPDIR: tmp }, root });
      expect(resources.jobfs).toBe(tmp);
      expect(resources.warnings).toEqual([]);
    }
  });

  test('the cluster root under it is refused, naming the directory and why (the request then fails with exit 2 / 400)', () => {
    const { project, tmp } = projectTmp(0o2770);
    const clusterRoot = join(tmp, `dask-hpc-${process.getuid!()}`);
    expect(() => checkPrivateRoot(clusterRoot, true)).toThrow(InputError);
    expect(() => checkPrivateRoot(clusterRoot, true)).toThrow(
      `cannot use ${clusterRoot} for cluster files: ${realpathSync(project)} is writable by its group without the sticky bit (mode 2770)`
    );
    expect(existsSync(clusterRoot)).toBe(false); // nothing made
  });
});

describe('garbage values are named, never silently used', () => {
  test('PBS_VMEM=lots: a warning naming it, and the cgroup or MemTotal instead', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    const resources = detectResources({ env: { PBS_JOBID: '1.pbs', PBS_NCPUS: '4', PBS_VMEM: 'lots' }, root });
    expect(resources.memory_bytes).toBe(16 * GiB);
    expect(resources.sources.memory).toMatch(/MemTotal/);
    expect(resources.warnings).toEqual([expect.stringMatching(/^PBS_VMEM="lots" is not a PBS size/)]);
    expect(resources.inputs.PBS_VMEM).toBe('lots');
  });

  test('PBS_NCPUS=four and a relative PBS_JOBFS', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    const resources = detectResources({ env: { PBS_JOBID: '1.pbs', PBS_NCPUS: 'four', PBS_JOBFS: 'jobfs' }, root });
    expect(resources.cores).toBe(4);
    expect(resources.jobfs).toBeNull();
    expect(resources.warnings.join('\n')).toMatch(/PBS_NCPUS="four" is not a whole number/);
    expect(resources.warnings.join('\n')).toMatch(/PBS_JOBFS="jobfs" is not an absolute path/);
  });

  test("SLURM_MEM_PER_NODE=0 (Slurm's --mem=0, all of the node) is a warning, not 0 B", () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    const resources = detectResources({ env: { SLURM_JOB_ID: '5', SLURM_MEM_PER_NODE: '0' }, root });
    expect(resources.memory_bytes).toBe(16 * GiB);
    expect(resources.sources.memory).toBe('MemTotal (/proc/meminfo)');
    expect(resources.warnings).toEqual([
      `SLURM_MEM_PER_NODE="0" is Slurm's --mem=0 (all of the node's memory); ignored it and used the node's own figure.`
    ]);
  });

  test('SLURM_MEM_PER_NODE=big', () => {
    const root = makeNodeRoot({ cpusAllowed: '0-3', memTotalBytes: 16 * GiB });
    const resources = detectResources({ env: { SLURM_JOB_ID: '5', SLURM_MEM_PER_NODE: 'big' }, root });
    expect(resources.memory_bytes).toBe(16 * GiB);
    expect(resources.warnings[0]).toMatch(/SLURM_MEM_PER_NODE="big"/);
  });
});
