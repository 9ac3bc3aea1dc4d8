import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Which node, and which boot of it, a record was written on. The state directory is usually in
 * $HOME, which every node of an HPC site shares: a process number means something only on its
 * own node, and only until that node reboots.
 */
export interface HostIdentity {
  host: string;
  boot_id: string;
  /** /etc/machine-id: two machines given the same hostname (containers, a misconfigured site) differ in it. */
  machine_id: string;
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';
const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

function firstLine(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return ''; // not Linux, or no such file
  }
}

/** This node: its hostname, its machine id and the kernel's id of this boot ('' where unknown). */
export function thisHost(): HostIdentity {
  const machineId = MACHINE_ID_FILES.map(firstLine).find(Boolean) ?? '';
  return { host: hostname(), boot_id: firstLine(BOOT_ID_FILE), machine_id: machineId };
}

/** When this node booted (ms since the epoch, /proc/stat's btime); null where unknown. */
export function bootTime(): number | null {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return btime ? Number(btime[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Where a record was written, seen from `here`:
 * - 'here': this node since its last boot; its processes may be judged and signalled;
 * - 'earlier-boot': this machine (same hostname and machine id) before a reboot, written
 *   before this boot began; everything it names is gone, so it is swept;
 * - 'elsewhere': another node (or one unknown, from a dask-hpc that did not record it); read only.
 * A record of another boot is swept only when it is surely of this machine: one of another
 * machine id, or of none (an older dask-hpc), or written after this boot began, may be another
 * machine with the same hostname (containers, a misconfigured site), so it is left alone.
 */
export type Whereabouts = 'here' | 'earlier-boot' | 'elsewhere';

type Record = Partial<HostIdentity> & { created_at?: string };

export function whereabouts(record: Record, here: HostIdentity = thisHost(), bootedAt: number | null = bootTime()): Whereabouts {
  if (typeof record.host !== 'string' || record.host !== here.host) return 'elsewhere';
  if (typeof record.machine_id === 'string' && record.machine_id !== here.machine_id) return 'elsewhere';
  if (record.boot_id === here.boot_id) return 'here';
  if (!here.machine_id || record.machine_id !== here.machine_id) return 'elsewhere';
  const createdAt = Date.parse(record.created_at ?? '');
  return bootedAt !== null && createdAt < bootedAt ? 'earlier-boot' : 'elsewhere';
}

/** How a record of another node is named to the user. */
export function describeHost(record: Partial<HostIdentity>): string {
  if (typeof record.host !== 'string') return 'an unknown host (recorded by an older dask-hpc)';
  const here = thisHost();
  if (record.host === here.host && typeof record.machine_id === 'string' && record.machine_id !== here.machine_id) {
    return `host ${record.host} of another machine (machine id ${record.machine_id}: another machine of the same name)`;
  }
  if (record.host === here.host) return `host ${record.host} of another boot (${record.boot_id}: another machine of the same name)`;
  return `host ${record.host}`;
}
