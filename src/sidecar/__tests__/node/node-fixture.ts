import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A node as its /proc and /sys files describe it. */
export interface NodeShape {
  cpusAllowed: string;
  memTotalBytes: number;
  /** Lines of /proc/self/cgroup. */
  cgroupMembership?: string[];
  /** Other files, by absolute node path: cgroup limits, a PBS_NODEFILE. */
  files?: Record<string, string>;
}

/** Writes a fixture tree that `detect --root` reads as if it were that node. */
export function makeNodeRoot(shape: NodeShape): string {
  const root = mkdtempSync(join(tmpdir(), 'dask-hpc-node-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('/proc/self/status', `Name:\tnode\nCpus_allowed:\tffff\nCpus_allowed_list:\t${shape.cpusAllowed}\nMems_allowed_list:\t0-1\n`);
  write('/proc/meminfo', `MemTotal:       ${Math.floor(shape.memTotalBytes / 1024)} kB\nMemFree:        1000 kB\n`);
  write('/proc/self/cgroup', (shape.cgroupMembership ?? ['0::/']).join('\n') + '\n');
  for (const [path, text] of Object.entries(shape.files ?? {})) write(path, text);
  return root;
}
