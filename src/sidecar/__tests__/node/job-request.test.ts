import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgetJobRequests, parsePbsJob, parseSlurmJob, readJobRequest } from '../../node/job-request';

const MiB = 2 ** 20;

// Recorded from the test PBS (OpenPBS, Gadi-like resources): qsub -P proj -l ncpus=2,mem=2gb,jobfs=500mb,walltime=00:05:00,storage=scratch/proj
const QSTAT = JSON.stringify({
  timestamp: 1796311920,
  pbs_version: '23.06.06',
  pbs_server: 'pbs-server',
  Jobs: {
    '12.pbs-server': {
      Job_Name: 'STDIN',
      Job_Owner: 'root@pbs-server',
      job_state: 'R',
      queue: 'workq',
      project: 'proj',
      Resource_List: { jobfs: '500mb', mem: '2gb', ncpus: 2, nodect: 1, storage: 'scratch/proj', walltime: '00:05:00' },
      stime: 'Thu Dec  3 15:32:00 2026',
      Account_Name: 'ignored'
    }
  }
});

// Recorded from the test Slurm: sbatch --account=acct --time=00:10:00 --tmp=100M
const SCONTROL =
  'JobId=7 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=1 Nice=0 Account=acct QOS=normal JobState=RUNNING ' +
  'Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:03 TimeLimit=00:10:00 ' +
  'TimeMin=N/A SubmitTime=2026-12-03T15:32:00 EligibleTime=2026-12-03T15:32:00 StartTime=2026-12-03T15:32:00 EndTime=2026-12-03T15:42:00 ' +
  'Partition=debug AllocNode:Sid=host:1 NodeList=c1 BatchHost=c1 NumNodes=1 NumCPUs=1 MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=100M ' +
  'Features=(null) Command=(null) WorkDir=/root';

describe('PBS: qstat -f -F json', () => {
  test('project, queue, storage, walltime, jobfs request and the end time (stime + walltime) of a Gadi-like job', () => {
    const { job, warnings } = parsePbsJob('12.pbs-server', QSTAT);
    expect(warnings).toEqual([]);
    expect(job).toEqual({
      id: '12.pbs-server',
      project: 'proj',
      queue: 'workq',
      storage: 'scratch/proj',
      walltime_seconds: 300,
      ends_at: new Date(new Date('Thu Dec 3 15:32:00 2026').getTime() + 300_000).toISOString(),
      jobfs_request_bytes: 500 * MiB
    });
  });

  test("OpenPBS's default project is no project; Account_Name (-A) is the project of standard PBS Pro", () => {
    const entry = (extra: object) => JSON.stringify({ Jobs: { '1.s': { queue: 'q', Resource_List: {}, ...extra } } });
    expect(parsePbsJob('1.s', entry({ project: '_pbs_project_default' })).job.project).toBeNull();
    expect(parsePbsJob('1.s', entry({ Account_Name: 'ab12' })).job.project).toBe('ab12');
  });

  test('odd units and missing fields: a warning each, nulls, never an error', () => {
    const odd = JSON.stringify({ Jobs: { '1.s': { Resource_List: { jobfs: '5 lots', walltime: 'forever' }, stime: 'yesterday' } } });
    const { job, warnings } = parsePbsJob('1.s', odd);
    expect(job).toEqual({
      id: '1.s',
      project: null,
      queue: null,
      storage: null,
      walltime_seconds: null,
      ends_at: null,
      jobfs_request_bytes: null
    });
    expect(warnings).toEqual([
      expect.stringMatching(/^qstat: Resource_List.walltime="forever" is not HH:MM:SS/),
      expect.stringMatching(/^qstat: Resource_List.jobfs="5 lots" is not a PBS size/)
    ]);
    expect(parsePbsJob('1.s', 'not json').warnings).toEqual([expect.stringMatching(/printed no job 1.s/)]);
    expect(parsePbsJob('1.s', '{"Jobs": {}}').job.project).toBeNull();
  });

  test('a walltime in plain seconds', () => {
    const { job } = parsePbsJob('1.s', JSON.stringify({ Jobs: { '1.s': { Resource_List: { walltime: 3600 } } } }));
    expect(job.walltime_seconds).toBe(3600);
    expect(job.ends_at).toBeNull(); // not started: no end
  });
});

describe('Slurm: scontrol show job -o', () => {
  test('Account, Partition, TimeLimit, EndTime and MinTmpDiskNode (--tmp)', () => {
    const { job, warnings } = parseSlurmJob('7', SCONTROL);
    expect(warnings).toEqual([]);
    expect(job).toEqual({
      id: '7',
      project: 'acct',
      queue: 'debug',
      storage: null,
      walltime_seconds: 600,
      ends_at: new Date('2026-12-03T15:42:00').toISOString(),
      jobfs_request_bytes: 100 * MiB
    });
  });

  test('SLURM_JOB_END_TIME wins over EndTime; days in TimeLimit; UNLIMITED and --tmp 0 are no figure', () => {
    expect(parseSlurmJob('7', SCONTROL, '1796312000').job.ends_at).toBe(new Date(1796312000 * 1000).toISOString());
    const unlimited = parseSlurmJob('7', 'JobId=7 Account=(null) TimeLimit=UNLIMITED EndTime=Unknown MinTmpDiskNode=0 Partition=p');
    expect(unlimited.job).toMatchObject({ project: null, walltime_seconds: null, ends_at: null, jobfs_request_bytes: null });
    expect(unlimited.warnings).toEqual([]);
    expect(parseSlurmJob('7', 'JobId=7 TimeLimit=1-02:03:04').job.walltime_seconds).toBe(93784);
  });

  test('odd values: a warning each, nulls', () => {
    const { job, warnings } = parseSlurmJob('7', 'JobId=7 TimeLimit=soon MinTmpDiskNode=100X EndTime=2026-13-45T99:00:00', 'later');
    expect(job).toMatchObject({ walltime_seconds: null, jobfs_request_bytes: null, ends_at: null });
    expect(warnings).toEqual([
      expect.stringMatching(/^scontrol: TimeLimit="soon" is not a time/),
      expect.stringMatching(/^scontrol: MinTmpDiskNode="100X" is not a size/),
      expect.stringMatching(/^SLURM_JOB_END_TIME="later" is not seconds/)
    ]);
    expect(parseSlurmJob('7', '').warnings).toEqual([expect.stringMatching(/printed no job/)]);
  });
});

describe('asking the batch system (real child processes)', () => {
  let bin: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    bin = mkdtempSync(join(tmpdir(), 'fake-batch-'));
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    forgetJobRequests();
  });
  afterEach(() => rmSync(bin, { recursive: true, force: true }));
  const fake = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };

  test('a qstat that hangs: the answer comes within the timeout, with a warning, and is asked once per job', () => {
    fake('qstat', `echo asked >> ${bin}/asked; exec sleep 30`);
    const started = Date.now();
    const { job, warnings } = readJobRequest('pbs', '12.s', { timeoutMs: 1000, env });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(job).toMatchObject({ id: '12.s', project: null, walltime_seconds: null });
    expect(warnings).toEqual([expect.stringMatching(/^qstat -f -F json 12.s did not answer within 1 s/)]);
    readJobRequest('pbs', '12.s', { timeoutMs: 1000, env });
    expect(readFileSync(join(bin, 'asked'), 'utf8')).toBe('asked\n');
  });

  test('qstat is given the job id as one argument and its output is read', () => {
    fake('qstat', `[ "$1 $2 $3 $4" = "-f -F json 12.pbs-server" ] || exit 3; cat <<'EOF'\n${QSTAT}\nEOF`);
    expect(readJobRequest('pbs', '12.pbs-server', { env }).job.project).toBe('proj');
  });

  test('a failing scontrol and a missing qstat are warnings; SLURM_JOB_END_TIME still counts', () => {
    fake('scontrol', 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1');
    const slurm = readJobRequest('slurm', '9', { slurmEndTime: '1796312000', env });
    expect(slurm.warnings).toEqual([
      expect.stringMatching(/^scontrol show job -o 9 failed \(exit 1\): slurm_load_jobs error: Invalid job id/)
    ]);
    expect(slurm.job.ends_at).toBe(new Date(1796312000 * 1000).toISOString());
    expect(readJobRequest('pbs', '-x', { env }).warnings).toEqual([expect.stringMatching(/^the job id "-x" is not one like/)]);
    expect(readJobRequest('pbs', '13.s', { env: { PATH: bin } }).warnings).toEqual([expect.stringMatching(/^qstat is not on PATH/)]);
  });
});
