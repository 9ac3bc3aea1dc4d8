import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { InputError } from '../../errors';
import { parseWorkerJobs } from '../../requests/job-request';
import { renderJobScript, type JobContext } from '../../batch/job-script';

// Jobs of several hosts: the directives ask for every host, and the script starts each host's
// workers from the first one. The real runs are in tests/test_pbs.py and tests/test_slurm.py;
// here bash runs the script with stand-ins for pbs_tmrsh, srun and Python that say what they got.

const GiB = 2 ** 30;
const directives = (script: string, prefix: string) => script.split('\n').filter(line => line.startsWith(prefix));

function contextIn(dir: string): JobContext {
  return {
    clusterId: 'c0ffee00',
    jobName: 'dask-c0ffee00',
    workerName: 'era5-job-3',
    schedulerAddress: 'tls://10.6.1.17:40123',
    python: join(dir, 'python'),
    logFile: join(dir, 'job.log'),
    security: { tls_ca_file: '/s/ca.pem', tls_cert: '/s/cert.pem', tls_key: '/s/key.pem' }
  };
}

describe('the directives of a job of several hosts', () => {
  const context = contextIn('/x');

  test("Gadi: the job's whole nodes, -l ncpus, mem and jobfs for all of them (each host's times the nodes)", () => {
    const spec = parseWorkerJobs(
      { system: 'pbs', nodes: 2, cores: 48, memory_gb: 190, jobfs_gb: 100, queue: 'normal' },
      { workload: 'cpu' }
    );
    expect(directives(renderJobScript(spec, context), '#PBS -l')).toEqual([
      '#PBS -l ncpus=96',
      `#PBS -l mem=${190 * 1024 * 2}MB`,
      `#PBS -l jobfs=${100 * 1024 * 2}MB`,
      '#PBS -l walltime=01:00:00',
      '#PBS -l wd'
    ]);
    // The plan is one host's: 48 workers within 190 GiB, not 96 within 380.
    expect(spec.plan.n_workers).toBe(48);
    expect(spec.plan.n_workers * spec.plan.memory_limit_bytes + spec.plan.reserve_bytes).toBeLessThanOrEqual(190 * GiB);
  });

  test("Gadi: cores per host other than the queue's whole node are refused by name (normal and the default 48, normalsr 104)", () => {
    const refused = (body: Record<string, unknown>) => {
      try {
        parseWorkerJobs({ system: 'pbs', memory_gb: 100, ...body }, {});
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return [(error as InputError).field, (error as Error).message];
      }
      return null;
    };
    expect(refused({ nodes: 2, cores: 16 })).toEqual([
      'worker_jobs.cores',
      "worker_jobs.cores must be 48 (a whole node of Gadi's normal queue) for a job of several nodes, not 16: Gadi gives a job past one node whole nodes only"
    ]);
    expect(refused({ nodes: 2, cores: 48, queue: 'normalsr' })?.[1]).toMatch(/must be 104 .* normalsr/);
    expect(refused({ nodes: 2, cores: 104, queue: 'normalsr' })).toBeNull();
    expect(refused({ nodes: 1, cores: 16 })).toBeNull(); // one node: any share of it
    expect(refused({ nodes: 2, cores: 16, queue: 'ourqueue' })).toBeNull(); // a queue whose nodes we do not know
  });

  test('nodes must be a whole number from 1 to 1000, refused by name; absent is one host, as before', () => {
    for (const nodes of [0, 1.5, 1001, '2', -1]) {
      expect(() => parseWorkerJobs({ system: 'slurm', nodes, cores: 2, memory_gb: 4 }, {})).toThrow(
        /worker_jobs\.nodes must be a whole number/
      );
    }
    const one = parseWorkerJobs({ system: 'slurm', cores: 2, memory_gb: 4 }, {});
    expect(one.nodes).toBeUndefined();
    expect(renderJobScript(one, context)).not.toMatch(/srun|host_part/);
  });

  test('PBS Pro: select=N chunks of the host shape, one per host (place=scatter)', () => {
    const spec = parseWorkerJobs({ system: 'pbs', dialect: 'pbspro', nodes: 3, cores: 2, memory_gb: 2 }, {});
    expect(directives(renderJobScript(spec, context), '#PBS -l')).toEqual([
      '#PBS -l select=3:ncpus=2:mem=2048MB',
      '#PBS -l place=scatter',
      '#PBS -l walltime=01:00:00'
    ]);
  });

  test('Slurm: --nodes, one task per node, --mem and --tmp per node as Slurm means them', () => {
    const spec = parseWorkerJobs({ system: 'slurm', nodes: 2, cores: 4, memory_gb: 8, jobfs_gb: 10 }, {});
    expect(directives(renderJobScript(spec, context), '#SBATCH')).toEqual(
      expect.arrayContaining([
        '#SBATCH --nodes=2',
        '#SBATCH --ntasks=2',
        '#SBATCH --ntasks-per-node=1',
        '#SBATCH --cpus-per-task=4',
        '#SBATCH --mem=8192M',
        '#SBATCH --tmp=10240M'
      ])
    );
  });
});

describe('a job of several hosts, run by bash with stand-ins for the launcher and Python', () => {
  /** A directory with the stand-ins and a private TMPDIR; `log` collects what each was given. */
  function standIns(failingHost: number | null) {
    const dir = mkdtempSync(join(tmpdir(), 'multi-node-'));
    const log = join(dir, 'calls.log');
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      chmodSync(join(dir, name), 0o755);
    };
    // pbs_tmrsh HOST CMD…: runs CMD here, saying which host it was for; like TM, it passes each argument's first line only.
    write(
      'pbs_tmrsh',
      `#!/bin/bash\necho "pbs_tmrsh $1" >> ${log}\nshift\nargs=(); for a in "$@"; do args+=("\${a%%$'\\n'*}"); done\nexec "\${args[@]}"\n`
    );
    // srun …options… CMD…: one task per node (--ntasks), each with its SLURM_NODEID, and the worst status.
    write(
      'srun',
      `#!/bin/bash\nopts=(); for a in "$@"; do [ "$a" = /bin/bash ] && break; opts+=("$a"); done\necho "srun \${opts[*]} (then bash)" >> ${log}\nn=1\nwhile [ "\${1#-}" != "$1" ]; do case "$1" in --ntasks=*) n=\${1#--ntasks=} ;; esac; shift; done\n` +
        `status=0; for i in $(seq 0 $((n - 1))); do SLURM_NODEID=$i "$@" & done\nfor i in $(seq 1 $n); do wait -n || status=$?; done\nexit $status\n`
    );
    // Python as dask worker: says its name and local directory, and fails on the failing host.
    write(
      'python',
      `#!/bin/bash\nfor a in "$@"; do [ "$prev" = --name ] && name=$a; [ "$prev" = --local-directory ] && ld=$a; prev=$a; done\n` +
        `echo "worker $name in $ld ($([ -d "$ld" ] && echo made))" >> ${log}\n` +
        (failingHost === null ? 'exit 0\n' : `[ "$name" = era5-job-3-${failingHost} ] && { sleep 0.2; exit 3; }\nsleep 2\nexit 0\n`)
    );
    const nodefile = join(dir, 'nodefile');
    // Gadi's PBS_NODEFILE lists a host once per core.
    writeFileSync(nodefile, ['cpu-1', 'cpu-1', 'cpu-2', 'cpu-2', 'cpu-3', 'cpu-3'].join('\n') + '\n');
    const tmp = mkdtempSync(join(tmpdir(), 'jobfs-'));
    return { dir, log, nodefile, tmp };
  }

  function runJob(system: 'pbs' | 'slurm', failingHost: number | null) {
    const where = standIns(failingHost);
    const body =
      system === 'pbs' ? { system, dialect: 'pbspro', nodes: 3, cores: 2, memory_gb: 2 } : { system, nodes: 3, cores: 2, memory_gb: 2 };
    const script = renderJobScript(parseWorkerJobs(body, { workload: 'cpu' }), contextIn(where.dir));
    const run = spawnSync('bash', ['-c', script], {
      env: { PATH: `${where.dir}:${process.env.PATH}`, TMPDIR: where.tmp, PBS_NODEFILE: where.nodefile },
      encoding: 'utf8',
      timeout: 20000
    });
    return { run, calls: readFileSync(where.log, 'utf8').trim().split('\n').sort(), tmp: where.tmp };
  }

  test('PBS: each host of PBS_NODEFILE once, its workers named by host, each with its own private local directory', () => {
    const { run, calls, tmp } = runJob('pbs', null);
    expect(run.status).toBe(0);
    const root = `${tmp}/dask-hpc-${process.getuid!()}`;
    expect(calls).toEqual([
      'pbs_tmrsh cpu-1',
      'pbs_tmrsh cpu-2',
      'pbs_tmrsh cpu-3',
      `worker era5-job-3-0 in ${root}/c0ffee00-era5-job-3-0 (made)`,
      `worker era5-job-3-1 in ${root}/c0ffee00-era5-job-3-1 (made)`,
      `worker era5-job-3-2 in ${root}/c0ffee00-era5-job-3-2 (made)`
    ]);
  });

  test("PBS: one host's workers failing ends the job with their status and says so, without waiting for the others", () => {
    const { run } = runJob('pbs', 1);
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('dask-hpc: the workers of one host of this job ended (exit 3): ending the job');
  });

  test('Slurm: one srun step of a task per node; the node id names the workers', () => {
    const { run, calls } = runJob('slurm', null);
    expect(run.status).toBe(0);
    expect(calls.filter(line => line.startsWith('srun'))).toEqual([
      'srun --nodes=3 --ntasks=3 --ntasks-per-node=1 --cpus-per-task=2 --kill-on-bad-exit=1 (then bash)'
    ]);
    expect(calls.filter(line => line.startsWith('worker')).map(line => line.split(' ')[1])).toEqual([
      'era5-job-3-0',
      'era5-job-3-1',
      'era5-job-3-2'
    ]);
  });

  test("Slurm: one node's workers failing ends the job with their status", () => {
    const { run } = runJob('slurm', 2);
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('ended (exit 3): ending the job');
  });
});
