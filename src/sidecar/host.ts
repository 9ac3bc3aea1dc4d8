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
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** This node: its hostname and the kernel's id of this boot ('' where the kernel has none). */
export function thisHost(): HostIdentity {
  let bootId = '';
  try {
    bootId = readFileSync(BOOT_ID_FILE, 'utf8').trim();
  } catch {
    // not Linux, or no /proc: the hostname alone tells nodes apart
  }
  return { host: hostname(), boot_id: bootId };
}

/**
 * Where a record was written, seen from `here`:
 * - 'here': this node since its last boot; its processes may be judged and signalled;
 * - 'earlier-boot': this node before a reboot; everything it names is gone, so it is swept;
 * - 'elsewhere': another node (or one unknown, from a dask-hpc that did not record it); read only.
 */
export type Whereabouts = 'here' | 'earlier-boot' | 'elsewhere';

export function whereabouts(record: Partial<HostIdentity>, here: HostIdentity = thisHost()): Whereabouts {
  if (typeof record.host !== 'string' || record.host !== here.host) return 'elsewhere';
  return record.boot_id === here.boot_id ? 'here' : 'earlier-boot';
}

/** How a record of another node is named to the user. */
export function describeHost(record: Partial<HostIdentity>): string {
  return typeof record.host === 'string' ? `host ${record.host}` : 'an unknown host (recorded by an older dask-hpc)';
}
