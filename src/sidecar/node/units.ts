/** Sizes as batch systems write them, in bytes. */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const PBS_MULTIPLIERS: Record<string, number> = {
  b: 1,
  kb: KiB,
  mb: MiB,
  gb: GiB,
  tb: GiB * 1024,
  pb: GiB * 1024 * 1024
};

/**
 * A PBS size: plain bytes ("201326592000"), or a number with b/kb/mb/gb/tb/pb, any case
 * ("300gb", "190GB"), PBS's k being 1024; "w" units are 8-byte words ("4mw"). Null if not a size.
 */
export function parsePbsSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)([bw]?)\s*$/i.exec(text);
  if (!match) {
    return null;
  }
  const [, amount, prefix, unit] = match;
  if (prefix && !unit) {
    return null; // "300g" is not a PBS size
  }
  const multiplier = PBS_MULTIPLIERS[(prefix + 'b').toLowerCase()];
  const bytes = Number(amount) * multiplier * (unit.toLowerCase() === 'w' ? 8 : 1);
  return Number.isFinite(bytes) ? Math.floor(bytes) : null;
}

/** A Slurm memory figure: MiB by default, or with a K/M/G/T suffix (1024-based). */
export function parseSlurmMemory(text: string): number | null {
  const match = /^\s*(\d+)\s*([KMGT]?)B?\s*$/i.exec(text);
  if (!match) {
    return null;
  }
  const scale: Record<string, number> = { k: KiB, m: MiB, g: GiB, t: GiB * 1024, '': MiB };
  return Number(match[1]) * scale[match[2].toLowerCase()];
}

/** A positive whole number, as in PBS_NCPUS, or null. */
export function parseCount(text: string): number | null {
  return /^\s*\d+\s*$/.test(text) && Number(text) > 0 ? Number(text) : null;
}

/** The number of CPUs in a list like "0-3,8,10-11" (Cpus_allowed_list, cpuset.cpus). */
export function countCpuList(text: string): number | null {
  let count = 0;
  for (const part of text.trim().split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) {
      return null;
    }
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first) {
      return null;
    }
    count += last - first + 1;
  }
  return count > 0 ? count : null;
}
