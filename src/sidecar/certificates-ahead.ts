import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSecurity } from '../common/protocol';
import { clusterSecurityFiles, writeClusterCertificates } from './cluster-tls';
import { removeTree } from './state';

/**
 * A cluster's TLS files made ahead of it. Making them (the X.509 library's load, two keys, two
 * signatures) took 0.08-0.11 s of a 1 s start on the test machine, CPU taken from the
 * scheduler and workers starting beside it (bench/). So once a cluster runs, its owner makes
 * the next cluster's set into this directory (0700, in the state directory), and the next
 * cluster, of any owner of this user, takes it whole with one rename: no set serves two
 * clusters, each cluster still has a CA of its own, and the CA's key is never written.
 */
export const AHEAD_DIRECTORY = 'tls-ahead';
/** A set older than this is thrown away: certificates are valid for 400 days from their making. */
const MAX_AGE_MS = 30 * 86_400_000;
/** An unfinished set (its owner ended while signing) older than this is thrown away. */
const UNFINISHED_MAX_AGE_MS = 60_000;
const FINISHED = /^(\d+)-[0-9a-f]+$/;
const UNFINISHED = /^\.making-(\d+)-[0-9a-f]+$/;

/** The cluster's TLS files in `directory`: a set made ahead if there is one, else made now. */
export async function takeOrWriteCertificates(aheadDirectory: string | null, directory: string): Promise<ClusterSecurity> {
  if (aheadDirectory) {
    for (const entry of setsReady(aheadDirectory)) {
      try {
        renameSync(join(aheadDirectory, entry), directory);
        return clusterSecurityFiles(directory);
      } catch {
        // another cluster took it first: try the next
      }
    }
  }
  return writeClusterCertificates(directory);
}

/** Makes one set for the next cluster unless one is waiting. Failures are harmless: that cluster makes its own. */
export async function writeCertificatesAhead(aheadDirectory: string): Promise<void> {
  try {
    if (setsByAge(aheadDirectory).length > 0) return;
    const name = `${Date.now()}-${randomBytes(4).toString('hex')}`;
    const unfinished = join(aheadDirectory, `.making-${name}`);
    await writeClusterCertificates(unfinished);
    renameSync(unfinished, join(aheadDirectory, name)); // whole, or not there
  } catch {
    // a full disk or a read-only state directory: the next cluster makes its own
  }
}

/** The finished sets; none if the directory cannot be read (then the cluster makes its own). */
function setsReady(aheadDirectory: string): string[] {
  try {
    return setsByAge(aheadDirectory);
  } catch {
    return [];
  }
}

/** The finished sets, oldest first; stale and abandoned ones are removed on the way. */
function setsByAge(aheadDirectory: string): string[] {
  mkdirSync(aheadDirectory, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const fresh: [number, string][] = [];
  for (const entry of readdirSync(aheadDirectory)) {
    const finished = FINISHED.exec(entry);
    const unfinished = UNFINISHED.exec(entry);
    const madeAt = Number((finished ?? unfinished)?.[1] ?? 0);
    if (finished && now - madeAt < MAX_AGE_MS) fresh.push([madeAt, entry]);
    else if (!unfinished || now - madeAt > UNFINISHED_MAX_AGE_MS) removeTree(join(aheadDirectory, entry));
  }
  return fresh.sort((a, b) => a[0] - b[0]).map(([, entry]) => entry);
}
