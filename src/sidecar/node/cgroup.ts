import { NodeFiles } from './node-files';

/** A limit and the file that set it, e.g. for `sources`. */
export interface CgroupLimit {
  value: number;
  file: string;
}

/** v1 hierarchies (controller list → path) and the v2 path of this process, from /proc/self/cgroup. */
interface CgroupMembership {
  v1: Map<string, string>;
  v2: string | null;
}

// cgroup v1 writes "no limit" as a huge page-aligned number, e.g. 9223372036854771712.
const V1_UNLIMITED_BYTES = 2 ** 62;

function readMembership(files: NodeFiles): CgroupMembership {
  const membership: CgroupMembership = { v1: new Map(), v2: null };
  for (const line of (files.read('/proc/self/cgroup') ?? '').split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) {
      continue;
    }
    const [, id, controllers, path] = match;
    if (id === '0' && controllers === '') {
      membership.v2 = path;
    } else {
      for (const controller of controllers.split(',')) {
        membership.v1.set(controller, path);
      }
      membership.v1.set(controllers, path);
    }
  }
  return membership;
}

/** The path and each of its ancestors up to "/": a job's limit is often set above the step's cgroup. */
function selfAndAncestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const paths: string[] = [];
  for (let i = parts.length; i >= 0; i--) {
    paths.push('/' + parts.slice(0, i).join('/'));
  }
  return paths;
}

function joinCgroup(mount: string, path: string, file: string): string {
  return `${mount}${path === '/' ? '' : path}/${file}`;
}

/** The smallest limit found in the cgroup or its ancestors, parsed from each file by `parse`. */
function tightestLimit(
  files: NodeFiles,
  mounts: string[],
  path: string,
  file: string,
  parse: (text: string, dir: string) => number | null
): CgroupLimit | null {
  let tightest: CgroupLimit | null = null;
  for (const mount of mounts) {
    for (const dir of selfAndAncestors(path)) {
      const filePath = joinCgroup(mount, dir, file);
      const text = files.read(filePath);
      const value = text === null ? null : parse(text.trim(), joinCgroup(mount, dir, ''));
      if (value !== null && (tightest === null || value < tightest.value)) {
        tightest = { value, file: filePath };
      }
    }
  }
  return tightest;
}

// Pure v2 mounts at /sys/fs/cgroup; hybrid systems put the v2 tree at /sys/fs/cgroup/unified.
const V2_MOUNTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];

/** The cgroup memory limit of this process (v2 memory.max or v1 memory.limit_in_bytes), if any. */
export function cgroupMemoryLimit(files: NodeFiles): CgroupLimit | null {
  const membership = readMembership(files);
  const candidates: CgroupLimit[] = [];
  if (membership.v2 !== null) {
    const v2 = tightestLimit(files, V2_MOUNTS, membership.v2, 'memory.max', text => (/^\d+$/.test(text) ? Number(text) : null));
    if (v2) candidates.push(v2);
  }
  const v1Path = membership.v1.get('memory');
  if (v1Path !== undefined) {
    const v1 = tightestLimit(files, ['/sys/fs/cgroup/memory'], v1Path, 'memory.limit_in_bytes', text =>
      /^\d+$/.test(text) && Number(text) < V1_UNLIMITED_BYTES ? Number(text) : null
    );
    if (v1) candidates.push(v1);
  }
  return candidates.sort((a, b) => a.value - b.value)[0] ?? null;
}

/** The CPU quota of this process in whole cores (v2 cpu.max or v1 cfs quota/period), if any. */
export function cgroupCpuQuota(files: NodeFiles): CgroupLimit | null {
  const membership = readMembership(files);
  const candidates: CgroupLimit[] = [];
  const cores = (quota: number, period: number) => (quota > 0 && period > 0 ? Math.max(1, Math.floor(quota / period)) : null);
  if (membership.v2 !== null) {
    const v2 = tightestLimit(files, V2_MOUNTS, membership.v2, 'cpu.max', text => {
      const match = /^(\d+)\s+(\d+)$/.exec(text); // "max 100000" means no quota
      return match ? cores(Number(match[1]), Number(match[2])) : null;
    });
    if (v2) candidates.push(v2);
  }
  const v1Path = membership.v1.get('cpu');
  if (v1Path !== undefined) {
    const mounts = ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu'];
    const v1 = tightestLimit(files, mounts, v1Path, 'cpu.cfs_quota_us', (text, dir) => {
      const period = Number((files.read(`${dir}cpu.cfs_period_us`) ?? '').trim());
      return /^\d+$/.test(text) ? cores(Number(text), period) : null; // -1 means no quota
    });
    if (v1) candidates.push(v1);
  }
  return candidates.sort((a, b) => a.value - b.value)[0] ?? null;
}
