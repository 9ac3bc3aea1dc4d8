/** Figures as people read them, shared by the CLI and the sidebar. */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Bytes as a person reads them: "15.6 GiB", "512 MiB". */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [
    [GiB * 1024, 'TiB'],
    [GiB, 'GiB'],
    [MiB, 'MiB'],
    [KiB, 'KiB']
  ];
  for (const [size, name] of units) {
    if (Math.abs(bytes) >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${name}`;
    }
  }
  return `${bytes} B`;
}

/** "2 workers × 1 thread". */
export function describeTopology(nWorkers: number, threadsPerWorker: number): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(nWorkers, 'worker')} × ${plural(threadsPerWorker, 'thread')}`;
}

/** A plan's spill cap per worker as people read it: "1.2 GiB per worker", "off", "no cap". */
export function describeSpillCap(maxSpillBytes: number | null | undefined): string {
  if (maxSpillBytes === null || maxSpillBytes === undefined) return 'no cap';
  return maxSpillBytes === 0 ? 'off (no room in the jobfs request)' : `at most ${formatBytes(maxSpillBytes)} per worker`;
}
