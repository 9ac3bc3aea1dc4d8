import { statfsSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { BatchSystem, Resources } from '../../common/protocol';
import { cgroupCpuQuota, cgroupMemoryLimit } from './cgroup';
import { NodeFiles } from './node-files';
import { unsafeAncestor } from '../state/private-directory';
import { formatBytes } from '../../common/format';
import { readJobRequest, type JobReading } from './job-request';
import { countCpuList, parseCount, parsePbsSize, parseSlurmMemory } from './units';

export type Environment = Record<string, string | undefined>;

export interface DetectOptions {
  env: Environment;
  /** Where /proc and /sys are read from: "/" on a real node, a fixture tree in tests. */
  root?: string;
  hostname?: string;
  /** Asks the batch system for the job's request (qstat, scontrol); tests give their own. */
  readJob?: (system: Exclude<BatchSystem, 'none'>, id: string, env: Environment) => JobReading;
}

function askBatchSystem(system: Exclude<BatchSystem, 'none'>, id: string, env: Environment): JobReading {
  return readJobRequest(system, id, { slurmEndTime: env.SLURM_JOB_END_TIME, env });
}

/** A figure and the input it came from. */
interface Figure {
  value: number;
  source: string;
}

/** Collects the raw inputs and the warnings while detection reads them. */
class Reading {
  readonly inputs: Record<string, string | number | null> = {};
  readonly warnings: string[] = [];

  constructor(
    readonly env: Environment,
    readonly files: NodeFiles
  ) {}

  /**
   * An environment variable parsed by `parse`; a value that does not parse is a warning naming
   * it, and so is zero when `zero` says what a zero means (a figure of 0 bytes is no figure).
   */
  variable(name: string, parse: (text: string) => number | null, expected: string, zero?: string): Figure | null {
    const text = this.env[name];
    if (text === undefined || text.trim() === '') {
      return null;
    }
    const value = parse(text);
    this.inputs[name] = value ?? text;
    if (value === null) {
      this.warnings.push(`${name}=${JSON.stringify(text)} is not ${expected}; ignored it.`);
      return null;
    }
    if (value === 0 && zero !== undefined) {
      this.warnings.push(`${name}=${JSON.stringify(text)} ${zero}; ignored it and used the node's own figure.`);
      return null;
    }
    return { value, source: name };
  }

  /** The first of several variables that is set and valid. */
  firstVariable(names: string[], parse: (text: string) => number | null, expected: string, zero?: string): Figure | null {
    for (const name of names) {
      const figure = this.variable(name, parse, expected, zero);
      if (figure) {
        return figure;
      }
    }
    return null;
  }
}

function batchSystemOf(env: Environment): { system: BatchSystem; jobId: string | null } {
  if (env.PBS_JOBID) {
    return { system: 'pbs', jobId: env.PBS_JOBID };
  }
  if (env.SLURM_JOB_ID ?? env.SLURM_JOBID) {
    return { system: 'slurm', jobId: (env.SLURM_JOB_ID ?? env.SLURM_JOBID) as string };
  }
  return { system: 'none', jobId: null };
}

/** "16(x2),8" → 16: the first node's CPUs of SLURM_JOB_CPUS_PER_NODE. */
function firstNodeCpus(text: string): number | null {
  const match = /^\s*(\d+)(\(x\d+\))?(,|$)/.exec(text);
  return match ? parseCount(match[1]) : null;
}

/** The smaller of two figures; a clamp that bites a batch system's figure is reported as a warning. */
function clamp(reading: Reading, figure: Figure, limit: Figure | null, describe: (n: number) => string, warn = true): Figure {
  if (!limit || limit.value >= figure.value) {
    return figure;
  }
  if (warn) {
    reading.warnings.push(
      `${figure.source} says ${describe(figure.value)} but ${limit.source} allows ${describe(limit.value)}; using ${describe(limit.value)}.`
    );
  }
  return limit;
}

function detectCores(reading: Reading, system: BatchSystem, nodes: number): Figure {
  const { files } = reading;
  const status = files.read('/proc/self/status') ?? '';
  const cpuListMatch = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  const cpuSetCount = cpuListMatch ? countCpuList(cpuListMatch[1]) : null;
  reading.inputs['Cpus_allowed_list'] = cpuSetCount;
  const cpuSet: Figure | null = cpuSetCount ? { value: cpuSetCount, source: 'Cpus_allowed_list (/proc/self/status)' } : null;

  const quota = cgroupCpuQuota(files);
  reading.inputs['cgroup_cpu_quota'] = quota?.value ?? null;
  const quotaFigure: Figure | null = quota ? { value: quota.value, source: `cgroup CPU quota (${quota.file})` } : null;

  let batch: Figure | null = null;
  if (system === 'slurm' || reading.env.SLURM_CPUS_ON_NODE) {
    batch =
      reading.variable('SLURM_CPUS_ON_NODE', parseCount, 'a whole number of CPUs') ??
      reading.variable('SLURM_JOB_CPUS_PER_NODE', firstNodeCpus, 'a CPU count like 16 or 16(x2)');
  }
  batch ??= perNode(reading.firstVariable(['PBS_NCPUS', 'NCPUS'], parseCount, 'a whole number of CPUs'), nodes, Math.floor);

  const processorCount = (files.read('/proc/cpuinfo') ?? '').match(/^processor\s*:/gm)?.length ?? 0;
  const fallback: Figure = cpuSet ?? { value: Math.max(1, processorCount), source: '/proc/cpuinfo' };
  let cores = batch ?? fallback;
  const describe = (n: number) => `${n} CPU${n === 1 ? '' : 's'}`;
  if (batch) cores = clamp(reading, cores, cpuSet, describe);
  cores = clamp(reading, cores, quotaFigure, describe);
  return cores;
}

/** Slurm's --mem=0 asks for all of a node's memory; some versions then export the 0 as it is. */
const SLURM_ALL_MEMORY = "is Slurm's --mem=0 (all of the node's memory)";

function detectMemory(reading: Reading, system: BatchSystem, cores: number, nodes: number): Figure {
  const { files } = reading;
  const memTotalMatch = /^MemTotal:\s*(\d+)\s*kB/m.exec(files.read('/proc/meminfo') ?? '');
  const memTotal: Figure | null = memTotalMatch ? { value: Number(memTotalMatch[1]) * 1024, source: 'MemTotal (/proc/meminfo)' } : null;
  reading.inputs['MemTotal'] = memTotal?.value ?? null;

  const limit = cgroupMemoryLimit(files);
  reading.inputs['cgroup_memory_limit'] = limit?.value ?? null;
  const cgroup: Figure | null = limit ? { value: limit.value, source: `cgroup memory limit (${limit.file})` } : null;

  let batch: Figure | null = null;
  if (system === 'slurm' || reading.env.SLURM_MEM_PER_NODE || reading.env.SLURM_MEM_PER_CPU) {
    batch = reading.variable('SLURM_MEM_PER_NODE', parseSlurmMemory, 'a size in MiB', SLURM_ALL_MEMORY);
    if (!batch) {
      const perCpu = reading.variable('SLURM_MEM_PER_CPU', parseSlurmMemory, 'a size in MiB', SLURM_ALL_MEMORY);
      batch = perCpu && { value: perCpu.value * cores, source: `SLURM_MEM_PER_CPU × ${cores} CPUs` };
    }
  }
  batch ??= perNode(
    reading.firstVariable(['PBS_VMEM', 'PBS_MEM'], parsePbsSize, 'a PBS size like 190gb or 201326592000', 'is no memory at all'),
    nodes,
    Math.floor
  );

  let memory = batch ?? cgroup ?? memTotal;
  if (!memory) {
    throw new Error(`cannot read the node's memory: no batch figure, cgroup limit or ${files.path('/proc/meminfo')}`);
  }
  // A cgroup limit above the physical memory is common and harmless: clamp it without a word.
  const fromBatch = memory === batch;
  if (fromBatch) memory = clamp(reading, memory, cgroup, formatBytes);
  if (memory !== memTotal) memory = clamp(reading, memory, memTotal, formatBytes, fromBatch);
  return memory;
}

/**
 * The job filesystem: the first of PBS_JOBFS, SLURM_TMPDIR and TMPDIR that is private (no
 * directory at or above it that another user can rearrange, see unsafeAncestor), else /tmp.
 * One passed over is a warning naming it; when /tmp is not private either, the cluster
 * request is refused (checkPrivateRoot) naming it.
 */
function detectJobfs(reading: Reading): { path: string | null; source: string } {
  let passedOver = false;
  for (const name of ['PBS_JOBFS', 'SLURM_TMPDIR', 'TMPDIR']) {
    const path = reading.env[name];
    if (path && path.trim() !== '') {
      reading.inputs[name] = path;
      if (!path.startsWith('/')) {
        reading.warnings.push(`${name}=${JSON.stringify(path)} is not an absolute path; ignored it.`);
        continue;
      }
      const unsafe = unsafeAncestor(path);
      if (unsafe) {
        reading.warnings.push(
          `${name}=${JSON.stringify(path)} is not private: ${unsafe.path} ${unsafe.why}; passed over it for the next private place.`
        );
        passedOver = true;
        continue;
      }
      return { path, source: name };
    }
  }
  const unsafe = unsafeAncestor('/tmp');
  if (unsafe) reading.warnings.push(`/tmp is not private: ${unsafe.path} ${unsafe.why}; no cluster can start here.`);
  if (passedOver) {
    return { path: null, source: 'none private (every one set is under a directory others can rearrange)' };
  }
  return { path: null, source: 'none (PBS_JOBFS, SLURM_TMPDIR and TMPDIR unset)' };
}

/** Free and whole size of the filesystem under `path` (on Gadi, the job's jobfs quota). */
function diskSpace(path: string | null): { freeBytes: number | null; sizeBytes: number | null } {
  if (!path) return { freeBytes: null, sizeBytes: null };
  try {
    const stats = statfsSync(path);
    return { freeBytes: stats.bavail * stats.bsize, sizeBytes: stats.blocks * stats.bsize };
  } catch {
    return { freeBytes: null, sizeBytes: null };
  }
}

/**
 * PBS's figures are the whole job's (PBS_NCPUS, PBS_VMEM: select=3:ncpus=2:mem=2gb gives 6 and
 * 6gb): a node has its share, which is what a plan for this node (or each runner node) needs.
 */
function perNode(figure: Figure | null, nodes: number, round: (n: number) => number): Figure | null {
  if (!figure || nodes <= 1) return figure;
  return { value: Math.max(1, round(figure.value / nodes)), source: `${figure.source} ÷ ${nodes} nodes (PBS_NODEFILE)` };
}

function countNodes(reading: Reading, system: BatchSystem): number {
  const nodeFile = reading.env.PBS_NODEFILE;
  if (system === 'pbs' && nodeFile) {
    const text = reading.files.read(nodeFile);
    if (text !== null) {
      return Math.max(
        1,
        new Set(
          text
            .split('\n')
            .map(line => line.trim())
            .filter(Boolean)
        ).size
      );
    }
    reading.warnings.push(`PBS_NODEFILE=${JSON.stringify(nodeFile)} cannot be read; counting one node.`);
  }
  if (system === 'slurm') {
    return reading.variable('SLURM_JOB_NUM_NODES', parseCount, 'a whole number of nodes')?.value ?? 1;
  }
  return 1;
}

/** The node's resources as this job sees them: `dask-hpc detect`. */
export function detectResources(options: DetectOptions): Resources {
  const reading = new Reading(options.env, new NodeFiles(options.root ?? '/'));
  const { system, jobId } = batchSystemOf(options.env);
  const nodes = countNodes(reading, system);
  const cores = detectCores(reading, system, nodes);
  const memory = detectMemory(reading, system, cores.value, nodes);
  const jobfs = detectJobfs(reading);
  const jobfsSpace = diskSpace(jobfs.path);
  const gpus = reading.firstVariable(
    ['PBS_NGPUS', 'SLURM_GPUS_ON_NODE'],
    text => (/^\d+$/.test(text.trim()) ? Number(text) : null),
    'a whole number of GPUs'
  );
  let job: Resources['job'] = null;
  if (system !== 'none' && jobId !== null) {
    const asked = (options.readJob ?? askBatchSystem)(system, jobId, options.env);
    job = asked.job;
    reading.warnings.push(...asked.warnings);
  }
  return {
    batch_system: system,
    job_id: jobId,
    hostname: options.hostname ?? osHostname(),
    cores: cores.value,
    memory_bytes: memory.value,
    jobfs: jobfs.path,
    jobfs_free_bytes: jobfsSpace.freeBytes,
    jobfs_size_bytes: jobfsSpace.sizeBytes,
    gpus: gpus?.value ?? 0,
    node_count: nodes,
    sources: { cores: cores.source, memory: memory.source, jobfs: jobfs.source },
    inputs: reading.inputs,
    warnings: reading.warnings,
    job
  };
}
